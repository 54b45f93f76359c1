import KindredImaging

// kindred-decode built instrumented: the child the decoder fuzz targets start for isolated formats
// (target names are unique across packages, so the main package's cannot be reused).
DecoderProcess.childMain(CommandLine.arguments)
