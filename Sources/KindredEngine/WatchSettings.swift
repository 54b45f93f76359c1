/// How the ingestion thread follows the roots (the [watch] section of Schema/kindred.toml, and
/// `index.snapshot_seconds`), checked by the configuration before it gets here.
public struct WatchSettings: Sendable, Equatable {
    /// The file names followed by default: every format the decoders read (by content, so a
    /// misnamed file decodes once a pattern admits it).
    public static let imageNames = [
        "*.jpg", "*.jpeg", "*.png", "*.webp", "*.tif", "*.tiff", "*.gif", "*.bmp", "*.heic", "*.heif", "*.hif",
        "*.avif", "*.jp2", "*.j2k", "*.j2c", "*.jpc", "*.jpf", "*.jpx",
        // Camera RAW: Adobe, Canon, Nikon, Sony, Olympus, Panasonic, Fujifilm, Pentax, Samsung, Sigma,
        // Minolta, Hasselblad, Epson, Kodak, Leaf, Phase One, Leica.
        "*.dng", "*.cr2", "*.cr3", "*.crw", "*.nef", "*.nrw", "*.arw", "*.srf", "*.sr2", "*.orf", "*.rw2", "*.raf",
        "*.pef", "*.srw", "*.x3f", "*.mrw", "*.3fr", "*.erf", "*.kdc", "*.dcr", "*.mos", "*.iiq", "*.rwl",
    ]
    /// Glob patterns a file name must match (any) and must not match (none).
    public var include = WatchSettings.imageNames
    public var exclude: [String] = []
    /// Whether hidden files and directories are followed.
    public var hidden = false
    /// How long a changed file must stay quiet before it is read.
    public var settleSeconds = 1.0
    /// How often directories past the inotify watch limit are polled.
    public var pollSeconds = 30.0
    /// The least time between index snapshots, written only when the index changed.
    public var snapshotSeconds = 300.0

    public init() {}
}
