import KindredImaging

// Installed beside kindredd and kindred, which start it for each camera RAW, HEIC, AVIF, TIFF and
// JPEG 2000 file (DecoderProcess).
DecoderProcess.childMain(CommandLine.arguments)
