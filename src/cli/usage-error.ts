// A command line that cannot be run as given: the command prints the message and its usage text.
export class UsageError extends Error {}
