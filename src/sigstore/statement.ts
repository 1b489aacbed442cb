// What a DSSE bundle signed: an in-toto Statement. The library checks the envelope signature only;
// sigward checks the payload type, the subject digest and the predicate type (as cosign does on its
// bundle path, cmd/cosign/cli/verify/verify.go, and sigstore-rs signature_layers.rs).
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPES } from './layout.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

export interface InTotoSubject {
  readonly name?: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface InTotoStatement {
  readonly type: string;
  readonly subject: readonly InTotoSubject[];
  readonly predicateType: string;
  readonly predicate: unknown;
}

export interface StatementExpectation {
  /** `sha256:<hex>` (first one shown in messages); any of them naming a subject is enough. */
  readonly digests: readonly string[];
  /** Required predicate type; undefined accepts any (only for artifact verification, never images). */
  readonly predicateType?: string | undefined;
}

function mismatch(message: string): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.contentMismatch, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a DSSE payload as an in-toto Statement after checking its payloadType. */
export function parseStatement(payloadType: string, payload: Uint8Array): InTotoStatement {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw mismatch(
      `the signed envelope is not an in-toto statement: expected payloadType ${IN_TOTO_PAYLOAD_TYPE}, found ${payloadType}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch (cause) {
    throw new SigstoreError(SigstoreErrorCode.contentMismatch, 'the signed in-toto statement is not JSON', {
      cause,
    });
  }
  if (!isRecord(json)) throw mismatch('the signed in-toto statement is not a JSON object');
  const { _type: type, subject, predicateType, predicate } = json;
  if (typeof type !== 'string' || !IN_TOTO_STATEMENT_TYPES.includes(type)) {
    throw mismatch(
      `the signed statement has an unknown _type: expected ${IN_TOTO_STATEMENT_TYPES.join(' or ')}, found ${String(type)}`,
    );
  }
  if (typeof predicateType !== 'string') throw mismatch('the signed statement has no predicateType');
  if (!Array.isArray(subject) || subject.length === 0) throw mismatch('the signed statement has no subject');
  const subjects: InTotoSubject[] = [];
  for (const s of subject) {
    if (!isRecord(s) || !isRecord(s.digest))
      throw mismatch('a subject of the signed statement has no digest');
    const digest: Record<string, string> = {};
    for (const [alg, value] of Object.entries(s.digest)) if (typeof value === 'string') digest[alg] = value;
    subjects.push(typeof s.name === 'string' ? { name: s.name, digest } : { digest });
  }
  return { type, subject: subjects, predicateType, predicate };
}

/** Checks subject digest and predicate type; throws SIGSTORE_CONTENT_MISMATCH otherwise. */
export function checkStatement(statement: InTotoStatement, expected: StatementExpectation): void {
  const found = expected.digests.some((d) => {
    const [alg, hex] = splitDigest(d);
    return statement.subject.some((s) => s.digest[alg]?.toLowerCase() === hex);
  });
  if (!found) {
    const seen = statement.subject
      .map((s) =>
        Object.entries(s.digest)
          .map(([a, v]) => `${a}:${v}`)
          .join(','),
      )
      .join('; ');
    throw mismatch(
      `the statement is about something else: expected subject ${expected.digests[0]}, found ${seen}`,
    );
  }
  if (expected.predicateType !== undefined && statement.predicateType !== expected.predicateType) {
    throw mismatch(
      `the statement has another predicate type: expected ${expected.predicateType}, found ${statement.predicateType}`,
    );
  }
}

/** `sha256:ABC` → ['sha256', 'abc']. */
export function splitDigest(digest: string): [string, string] {
  const i = digest.indexOf(':');
  if (i <= 0) throw new SigstoreError(SigstoreErrorCode.contentMismatch, `not a digest: ${digest}`);
  return [digest.slice(0, i).toLowerCase(), digest.slice(i + 1).toLowerCase()];
}
