// The `sigward` command line: the only place that reads argv, wires dependencies and exits.
const [command = 'help'] = process.argv.slice(2);

const usage = `sigward: admit only container images signed by the right Sigstore identity

Usage:
  sigward webhook     run the admission webhook
  sigward verify      verify an image's signatures (sigward verify --help)
  sigward sign        keyless-sign an image (sigward sign --help)
  sigward attest      attest an image with an in-toto predicate (sigward attest --help)
  sigward verify-attestation  verify an image's in-toto attestation and CEL conditions (--help)
  sigward verify-bundle  verify one Sigstore bundle (sigstore-conformance protocol)
  sigward policy test    judge images, manifests or the running cluster with policy files (sigward policy test --help)
  sigward convert        policy-controller ClusterImagePolicies → sigward policies (sigward convert --help)
`;

const policyUsage = `Usage: sigward policy test [options] [TEST_FILE|DIR ...]

  judge images, manifests, AdmissionReviews or the running cluster with policy files (sigward policy test --help)
`;

if (command === 'webhook') {
  const { runWebhook } = await import('./webhook.ts');
  // Shutdown already drained and stopped everything; a background TUF refresh must not hold the exit.
  process.exit(await runWebhook(process.argv.slice(3)));
} else if (command === 'verify') {
  const { runVerify } = await import('./verify.ts');
  process.exitCode = await runVerify(process.argv.slice(3));
} else if (command === 'sign' || command === 'attest') {
  const { runSign } = await import('./sign.ts');
  process.exitCode = await runSign(command, process.argv.slice(3));
} else if (command === 'verify-attestation') {
  const { runVerifyAttestation } = await import('./verify-attestation.ts');
  process.exitCode = await runVerifyAttestation(process.argv.slice(3));
} else if (command === 'verify-bundle') {
  const { runVerifyBundle } = await import('./verify-bundle.ts');
  process.exitCode = await runVerifyBundle(process.argv.slice(3));
} else if (command === 'policy') {
  const [sub = ''] = process.argv.slice(3);
  if (sub === 'test') {
    const { runPolicyTest } = await import('./policy-test.ts');
    process.exitCode = await runPolicyTest(process.argv.slice(4));
  } else if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(policyUsage);
  } else {
    const what = sub === '' ? 'needs a subcommand' : `unknown subcommand "${sub}"`;
    process.stderr.write(`sigward policy: ${what}\n\n${policyUsage}`);
    process.exitCode = 2;
  }
} else if (command === 'convert') {
  const { runConvert } = await import('./convert.ts');
  process.exitCode = await runConvert(process.argv.slice(3));
} else if (command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(usage);
} else {
  const { suggestCommand } = await import('./suggest-command.ts');
  const meant = suggestCommand(command);
  const hint = meant === undefined ? '' : ` (did you mean \`sigward ${meant}\`?)`;
  process.stderr.write(`sigward: unknown command "${command}"${hint}\n\n${usage}`);
  process.exitCode = 2;
}
