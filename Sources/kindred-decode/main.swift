import KindredImaging

// Installed beside kindredd and kindred, which start it for each camera RAW file.
DecoderProcess.childMain(CommandLine.arguments)
