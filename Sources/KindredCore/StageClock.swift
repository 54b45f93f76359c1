import Synchronization

/// A step that turning a file into vectors goes through, in the order a file meets them.
public enum PipelineStage: String, CaseIterable, Sendable {
    /// The file's bytes into memory.
    case read
    /// The content hash that says whether a changed file really changed (kindredd only).
    case hash
    /// The decoder: inflating, unfiltering, colour conversion, DCT-scaled or library-scaled
    /// decoding, and the ICC transform; a decoder child's whole decode (`DecoderProcess`).
    case decode
    /// The streaming area resampler that shrinks what a decoder hands it row by row (in-process
    /// decoders only: JPEG and WebP shrink inside their libraries, counted as `decode`).
    case resample
    /// Framing for the describers: the uniform border trimmed, the picture fitted (`Framing`).
    case frame
    /// The style descriptor (value, hue, texture, layout).
    case style
    /// The perceptual hash.
    case phash
    /// The stored 32-pixel thumbnail.
    case thumbnail
    /// The network, with the resize and crop of its input tensor and the classifier.
    case cnn
    /// The commit: the catalog rows and the vectors (SQLite, LMDB), in the commit order.
    case store
    /// Inserting into the live HNSW indexes.
    case index
    /// Not work: the wall time the consuming thread (the network's) waited for decoded files.
    /// Near zero, decoding keeps up; large, the decoders are the bottleneck.
    case waiting
}

/// Where a pipeline's time goes: seconds per `PipelineStage`, summed over every thread that ran
/// the stage (so on two busy threads they add up to twice the wall time), since the clock was
/// made. Each is the wall time its thread spent in the stage, not CPU time: with more runnable
/// threads than cores (two decode workers beside the network's threads) a stage's seconds include
/// the time its thread waited for a core, so compare stages with each other, not with the CPU.
/// (CPU time would take a system call, `CLOCK_THREAD_CPUTIME_ID`, where the monotonic clock is
/// read in user space: the resampler reads it twice a row.) The one place `kindred embed` and
/// kindredd's ingestion (STATUS `ingest_<stage>_s`) account their time, so both split it the same
/// way. A handful of locked additions a file: far below a file's milliseconds of work.
public final class StageClock: Sendable {
    private let totals = Mutex([Duration](repeating: .zero, count: PipelineStage.allCases.count))
    /// Files that went through the clock's pipeline (read, whatever came of them).
    private let fileCount = Atomic<Int>(0)
    /// Of those, files that took an already described item's vectors (`countShared`).
    private let sharedCount = Atomic<Int>(0)

    public init() {}

    public func add(_ stage: PipelineStage, _ duration: Duration) {
        let slot = Self.slot[stage]!
        totals.withLock { $0[slot] += duration }
    }

    /// Runs `body`, adding its time to `stage`.
    @inlinable
    public func measure<T, E: Error>(_ stage: PipelineStage, _ body: () throws(E) -> T) throws(E) -> T {
        let begun = ContinuousClock.now
        defer { add(stage, ContinuousClock.now - begun) }
        return try body()
    }

    /// Counts files that entered the pipeline (the denominator of a per-file figure).
    public func countFiles(_ n: Int = 1) { fileCount.wrappingAdd(n, ordering: .relaxed) }

    public var files: Int { fileCount.load(ordering: .relaxed) }

    /// Counts files that were not decoded because an item with the same bytes was described
    /// already: they took its vectors (kindredd's ingestion).
    public func countShared(_ n: Int) { sharedCount.wrappingAdd(n, ordering: .relaxed) }

    public var shared: Int { sharedCount.load(ordering: .relaxed) }

    /// Seconds spent in `stage` so far.
    public func seconds(_ stage: PipelineStage) -> Double {
        totals.withLock { $0[Self.slot[stage]!] }.seconds
    }

    /// Every stage's seconds, in pipeline order, rounded to the microsecond.
    public var rounded: [(stage: PipelineStage, seconds: Double)] {
        PipelineStage.allCases.map { ($0, (seconds($0) * 1e6).rounded() / 1e6) }
    }

    private static let slot = Dictionary(uniqueKeysWithValues: PipelineStage.allCases.enumerated().map { ($1, $0) })
}
