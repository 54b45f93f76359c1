// libFuzzer's driver, called from each target's entry point. SwiftPM links executables with
// `main` renamed to `<target>_main` and defined by the linker, so libFuzzer's own main is never
// pulled in; each target's `<target>_main` hands over to the driver instead.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
