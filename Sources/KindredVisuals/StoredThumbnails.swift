import KindredCore
import KindredImaging
import KindredStore

/// The thumbnails kindredd keeps for every item it indexes (the `thumb` space: `side` × `side`
/// RGB, Schema/lmdb.md), read for `kindred map` so large maps need no image decoding.
public struct StoredThumbnails: ThumbnailSource, Sendable {
    public let store: VectorStore
    public let space: String
    public let side: Int

    /// nil when the store has no thumbnail space (made before kindredd kept them).
    public init?(store: VectorStore, space: String = Space.thumb.name) {
        guard let registered = try? store.registeredSpaces().first(where: { $0.name == space }),
            registered.element == .uint8
        else { return nil }
        let side = Int(Double(registered.dimension / 3).squareRoot())
        guard side * side * 3 == registered.dimension else { return nil }
        self.store = store
        self.space = space
        self.side = side
    }

    public func image(_ item: ItemID) -> RGBImage? {
        guard let pixels = try? store.vector(item, space: space, as: UInt8.self), pixels.count == side * side * 3 else {
            return nil
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }
}
