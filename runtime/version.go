package runtime

// SupportPackageIsVersion1 is referenced by generated code. A generated file
// that needs a newer runtime fails to compile against an older one, with this
// name in the message, instead of misbehaving. New versions add constants;
// old ones are never removed.
const SupportPackageIsVersion1 = true
