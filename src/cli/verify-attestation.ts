// `sigward verify-attestation IMAGE`: does the image carry an in-toto attestation of this type, signed
// by the given identity or key, about its digest, on which these CEL conditions hold? cosign's flags
// (`--type`, the identity flags, `--key`), with `--condition CEL` (repeatable) in place of cosign's
// `--policy` CUE/Rego file. The same discovery, verification and condition evaluation as the webhook's
// attestation policies. Exit 0 when it passes, 1 otherwise (each failure says which, with a code).
import { parseArgs } from 'node:util';
import { SigwardError, describeError } from '../errors.ts';
import { RegistryClient, parseReference, parseRepository } from '../oci/index.ts';
import { attestationOutcome } from '../policy/attestations.ts';
import { describeFound } from '../policy/compile.ts';
import { clip } from '../policy/decision.ts';
import type { CompiledAttestation } from '../policy/compile.ts';
import { compileCondition } from '../policy/conditions.ts';
import type { CompiledCondition } from '../policy/conditions.ts';
import { PREDICATE_SHORT_NAMES, predicateTypeUri } from '../policy/predicate-types.ts';
import { verifyAttestations } from '../sigstore/verify-attestations.ts';
import { testRegistryEndpoints } from './cloud-credentials.ts';
import { UsageError } from './usage-error.ts';
import { authorityFromFlags, registryKeychain, signerOptions, signerUsage, trustRoot } from './verify.ts';
import type { Output } from './verify.ts';

export const verifyAttestationUsage = `Usage: sigward verify-attestation [options] IMAGE

What (default --type custom, as cosign):
  --type TYPE            a predicate type URI, or one of ${PREDICATE_SHORT_NAMES.join(', ')}
  --condition CEL        must be true on the attestation (repeatable; all must hold). Variables:
                         predicate, predicateType, subject, signer.{issuer,subject,extensions}, now
${signerUsage}Output:
  --output text|json

Looks in the Sigstore bundle referrers (referrers API or fallback tag) and the legacy sha256-<hex>.att
tag. The statement's subject must name the image's digest.
`;

const stdio: Output = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const options = {
  ...signerOptions,
  type: { type: 'string', default: 'custom' },
  condition: { type: 'string', multiple: true },
  output: { type: 'string', default: 'text' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

/** The --type and --condition flags as one required attestation; a bad one names its flag. */
function requirement(values: Values): CompiledAttestation {
  const type = values.type ?? 'custom';
  const predicateType = predicateTypeUri(type);
  if (predicateType === undefined)
    throw new UsageError(`--type ${type}: not a URI nor one of ${PREDICATE_SHORT_NAMES.join(', ')}`);
  const conditions: CompiledCondition[] = (values.condition ?? []).map((expression, i) => {
    const compiled = compileCondition(expression);
    if (typeof compiled === 'string') throw new UsageError(`--condition #${i + 1} ${compiled}`);
    return compiled;
  });
  return { name: type, predicateType, conditions };
}

/** Runs the command; returns the exit code. */
export async function runVerifyAttestation(
  argv: readonly string[],
  io: Output = stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true }));
  } catch (error) {
    io.err(`sigward verify-attestation: ${describeError(error)}\n\n${verifyAttestationUsage}`);
    return 1;
  }
  if (values.help === true) {
    io.out(verifyAttestationUsage);
    return 0;
  }
  const json = values.output === 'json';
  let client: RegistryClient | undefined;
  try {
    if (positionals.length !== 1) throw new UsageError('expected exactly one IMAGE');
    if (values.output !== 'text' && values.output !== 'json')
      throw new UsageError('--output is text or json');
    const required = requirement(values);
    const authority = authorityFromFlags(values);
    const reference = parseReference(positionals[0]!);
    const repositoryText = values['signature-repository'] ?? env['COSIGN_REPOSITORY'];
    client = new RegistryClient({
      keychain: registryKeychain(values, env),
      insecureRegistries: values['allow-insecure-registry'] ?? [],
      registryEndpoints: testRegistryEndpoints(env),
    });
    const trust = await trustRoot(values, env, io);
    const digest = reference.digest ?? (await client.resolve(reference)).digest;
    const verdict = await verifyAttestations({
      client,
      image: { repository: reference, digest },
      authorities: [authority],
      trust: trust.material,
      predicateTypes: [required.predicateType],
      ...(repositoryText === undefined
        ? {}
        : { discovery: { signatureRepository: parseRepository(repositoryText) } }),
    });
    const outcome = attestationOutcome(
      { name: authority.name, attestations: [required] },
      verdict,
      new Date(),
    );
    const passed = outcome.verified;
    if (json) {
      const attestations = verdict.attestations.map((a) => ({
        location: a.location,
        predicateType: a.predicateType,
        verified: a.outcome.verified,
        ...(a.outcome.verified
          ? { signer: a.outcome.signer, signedAt: a.outcome.signedAt }
          : { code: a.outcome.code, reason: a.outcome.reason }),
      }));
      const result = {
        image: verdict.image,
        status: passed ? 'verified' : verdict.status === 'error' ? 'error' : 'rejected',
        code: outcome.code,
        message: outcome.message,
        attestations,
        trustRoot: trust.version,
      };
      io.out(`${JSON.stringify(result, null, 2)}\n`);
    } else if (passed) {
      // The attestation that satisfied the requirement, not merely the first that verified.
      const signer = outcome.attestations[0]?.satisfiedBy;
      const by =
        signer === undefined
          ? ''
          : signer.kind === 'certificate'
            ? `; signed by ${describeFound(signer)}`
            : '; signed by the key';
      io.out(
        `${clip(`${verdict.image}: ${outcome.attestations[0]?.message ?? outcome.message}${by}`, 4096)}\n`,
      );
    } else {
      io.err(`${clip(`${verdict.image}: ${outcome.message}`, 4096)} [${outcome.code}]\n`);
    }
    return passed ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`sigward verify-attestation: ${error.message}\n\n${verifyAttestationUsage}`);
      return 1;
    }
    const code = error instanceof SigwardError ? error.code : 'VERIFY_FAILED';
    if (json)
      io.out(`${JSON.stringify({ status: 'error', code, message: describeError(error) }, null, 2)}\n`);
    else io.err(`sigward verify-attestation: [${code}] ${describeError(error)}\n`);
    return 1;
  } finally {
    await client?.close();
  }
}
