import Glibc

/// A pthread read-write lock that prefers writers, so a stream of readers cannot starve the rare
/// exclusive holder (growing a map, resizing an index).
public final class ReadWriteLock: @unchecked Sendable {  // the pthread lock is the synchronisation
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    public init() {
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    public func lockShared() { pthread_rwlock_rdlock(lock) }
    public func lockExclusive() { pthread_rwlock_wrlock(lock) }
    public func unlock() { pthread_rwlock_unlock(lock) }

    public func withShared<T>(_ body: () throws -> T) rethrows -> T {
        lockShared()
        defer { unlock() }
        return try body()
    }

    public func withExclusive<T>(_ body: () throws -> T) rethrows -> T {
        lockExclusive()
        defer { unlock() }
        return try body()
    }
}

/// Mutexes striped over node ids: writers lock the node whose link list they change. 4,096
/// stripes keep two writers on different nodes almost never waiting for each other.
public final class StripedLocks: @unchecked Sendable {  // the pthread mutexes are the synchronisation
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private let mask: Int

    public init(stripes: Int = 4096) {
        precondition(stripes > 0 && stripes & (stripes - 1) == 0, "stripes must be a power of two")
        locks = .allocate(capacity: stripes)
        for i in 0..<stripes { pthread_mutex_init(locks + i, nil) }
        mask = stripes - 1
    }

    deinit {
        for i in 0...mask { pthread_mutex_destroy(locks + i) }
        locks.deallocate()
    }

    @inline(__always) public func lock(_ id: Int) { pthread_mutex_lock(locks + (id & mask)) }
    @inline(__always) public func unlock(_ id: Int) { pthread_mutex_unlock(locks + (id & mask)) }
}
