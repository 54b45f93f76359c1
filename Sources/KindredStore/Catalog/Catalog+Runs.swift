import Foundation
import GRDB
import KindredCore

/// One refit, as `runs` records it (Schema/catalog/001_initial.sql).
public struct RefitRun: Sendable, Equatable {
    public var id: Int64
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var status: String
    public var isCurrent: Bool
    public var algorithm: String
    public var parameters: String
    public var itemCount: Int?
    public var clusterCount: Int?
    public var noiseFraction: Double?
    public var silhouette: Double?
    public var metrics: String
    public var timings: String
    public var error: String?

    public init(
        id: Int64, startedAt: Int64, finishedAt: Int64?, status: String, isCurrent: Bool, algorithm: String,
        parameters: String,
        itemCount: Int?, clusterCount: Int?, noiseFraction: Double?, silhouette: Double?, metrics: String,
        timings: String, error: String?
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.isCurrent = isCurrent
        self.algorithm = algorithm
        self.parameters = parameters
        self.itemCount = itemCount
        self.clusterCount = clusterCount
        self.noiseFraction = noiseFraction
        self.silhouette = silhouette
        self.metrics = metrics
        self.timings = timings
        self.error = error
    }
}

/// One item's place in a run.
public struct Assignment: Sendable, Equatable {
    public var item: ItemID
    public var cluster: Int
    public var probability: Float?
    public var outlierScore: Float?
    public var map2: (Float, Float)
    public var map3: (Float, Float, Float)
    /// Nearest items in the CNN space, nearest first, itself left out (empty when not known).
    public var neighbours: [ItemID]

    public init(
        item: ItemID, cluster: Int, probability: Float?, outlierScore: Float?, map2: (Float, Float),
        map3: (Float, Float, Float),
        neighbours: [ItemID] = []
    ) {
        self.item = item
        self.cluster = cluster
        self.probability = probability
        self.outlierScore = outlierScore
        self.map2 = map2
        self.map3 = map3
        self.neighbours = neighbours
    }

    public static func == (a: Assignment, b: Assignment) -> Bool {
        a.item == b.item && a.cluster == b.cluster && a.probability == b.probability && a.outlierScore == b.outlierScore
            && a.map2 == b.map2 && a.map3 == b.map3 && a.neighbours == b.neighbours
    }

    /// `assignments.neighbours` (migration 003): little-endian int64 ids.
    var neighboursBlob: Data? {
        guard !neighbours.isEmpty else { return nil }
        var data = Data(capacity: neighbours.count * 8)
        for id in neighbours { withUnsafeBytes(of: id.sqlValue.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func neighbours(fromBlob data: Data?) -> [ItemID] {
        guard let data else { return [] }
        return stride(from: 0, to: data.count - 7, by: 8).map { offset in
            var raw: Int64 = 0
            withUnsafeMutableBytes(of: &raw) {
                $0.copyBytes(from: data[(data.startIndex + offset)..<(data.startIndex + offset + 8)])
            }
            return ItemID(UInt64(Int64(littleEndian: raw)))
        }
    }
}

/// One cluster of a run.
public struct ClusterFacts: Sendable, Equatable {
    public var cluster: Int
    public var size: Int
    public var exemplar: ItemID?
    public var silhouette: Double?
    public var bornRunID: Int64
    public var matchedJaccard: Double?
    /// What the run named it from its members (`clusters.label`).
    public var label: String?
    /// What a user named its stable id (`cluster_names`), which wins over the label.
    public var name: String?

    public init(
        cluster: Int, size: Int, exemplar: ItemID?, silhouette: Double?, bornRunID: Int64, matchedJaccard: Double?,
        label: String? = nil, name: String? = nil
    ) {
        self.cluster = cluster
        self.size = size
        self.exemplar = exemplar
        self.silhouette = silhouette
        self.bornRunID = bornRunID
        self.matchedJaccard = matchedJaccard
        self.label = label
        self.name = name
    }

    /// What to call it: the user's name, else the run's label, else "cluster N".
    public var title: String { name ?? label ?? "cluster \(cluster)" }
}

/// What a finished run records besides its assignments and clusters.
public struct RunSummary: Sendable {
    public var itemCount: Int
    public var clusterCount: Int
    public var noiseFraction: Double
    public var silhouette: Double?
    public var metrics: String
    public var timings: String

    public init(
        itemCount: Int, clusterCount: Int, noiseFraction: Double, silhouette: Double?, metrics: String, timings: String
    ) {
        self.itemCount = itemCount
        self.clusterCount = clusterCount
        self.noiseFraction = noiseFraction
        self.silhouette = silhouette
        self.metrics = metrics
        self.timings = timings
    }
}

extension Catalog {
    /// Records a run as started; returns its id.
    public func beginRun(
        algorithm: String, parameters: String, at now: Int64 = Catalog.now()
    ) throws(CatalogError) -> Int64 {
        try write("begin a refit run") { db in
            try db.execute(
                sql: "INSERT INTO runs (started_at, status, algorithm, parameters) VALUES (?, 'running', ?, ?)",
                arguments: [now, algorithm, parameters])
            return db.lastInsertedRowID
        }
    }

    /// Writes a run's results and makes it the current run, in one transaction: readers see the
    /// previous run or this one whole, never a mixture. Then keeps only the newest `keep` finished
    /// runs (their assignments and clusters go with them).
    public func finishRun(
        _ id: Int64, summary: RunSummary, assignments: [Assignment], clusters: [ClusterFacts], keep: Int,
        at now: Int64 = Catalog.now()
    ) throws(CatalogError) {
        try write("finish refit run \(id)") { db in
            try Self.insert(assignments, run: id, in: db)
            let cluster = try db.cachedStatement(
                sql: """
                    INSERT INTO clusters (run_id, cluster, size, exemplar, silhouette, born_run_id, matched_jaccard, label)
                    VALUES (?, ?, ?, (SELECT id FROM items WHERE id = ?), ?, ?, ?, ?)
                    """)
            for c in clusters {
                try cluster.execute(arguments: [
                    id, c.cluster, c.size, c.exemplar.map { $0.sqlValue }, c.silhouette, c.bornRunID, c.matchedJaccard,
                    c.label,
                ])
            }
            try db.execute(sql: "UPDATE runs SET is_current = 0 WHERE is_current = 1")
            try db.execute(
                sql: """
                    UPDATE runs SET status = 'done', is_current = 1, finished_at = ?, item_count = ?, cluster_count = ?, noise_fraction = ?,
                        silhouette = ?, metrics = ?, timings = ? WHERE id = ?
                    """,
                arguments: [
                    now, summary.itemCount, summary.clusterCount, summary.noiseFraction, summary.silhouette,
                    summary.metrics, summary.timings, id,
                ])
            try db.execute(
                sql: """
                    DELETE FROM runs WHERE status != 'running' AND id NOT IN (SELECT id FROM runs WHERE status = 'done' ORDER BY id DESC LIMIT ?)
                    """, arguments: [max(1, keep)])
        }
    }

    public func failRun(_ id: Int64, error message: String, at now: Int64 = Catalog.now()) throws(CatalogError) {
        try write("fail refit run \(id)") { db in
            try db.execute(
                sql: "UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                arguments: [now, message, id])
        }
    }

    /// Runs a crash left marked `running` are failed at start-up.
    @discardableResult
    public func failInterruptedRuns() throws(CatalogError) -> Int {
        try write("fail interrupted runs") { db in
            try db.execute(
                sql:
                    "UPDATE runs SET status = 'failed', error = 'interrupted: kindredd stopped during the refit' WHERE status = 'running'"
            )
            return db.changesCount
        }
    }

    public func runs(limit: Int = 100) throws(CatalogError) -> [RefitRun] {
        try read("list runs") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.run)
        }
    }

    public func currentRun() throws(CatalogError) -> RefitRun? {
        try read("current run") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE is_current = 1").map(Self.run)
        }
    }

    public func run(_ id: Int64) throws(CatalogError) -> RefitRun? {
        try read("run \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map(Self.run)
        }
    }

    private static func run(_ row: Row) -> RefitRun {
        RefitRun(
            id: row["id"], startedAt: row["started_at"], finishedAt: row["finished_at"], status: row["status"],
            isCurrent: row["is_current"],
            algorithm: row["algorithm"], parameters: row["parameters"], itemCount: row["item_count"],
            clusterCount: row["cluster_count"],
            noiseFraction: row["noise_fraction"], silhouette: row["silhouette"], metrics: row["metrics"],
            timings: row["timings"], error: row["error"])
    }

    public func clusters(run: Int64) throws(CatalogError) -> [ClusterFacts] {
        try read("clusters of run \(run)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.*, n.name FROM clusters c LEFT JOIN cluster_names n ON n.cluster = c.cluster
                    WHERE c.run_id = ? ORDER BY c.size DESC, c.cluster
                    """, arguments: [run]
            ).map { row in
                ClusterFacts(
                    cluster: row["cluster"], size: row["size"],
                    exemplar: (row["exemplar"] as Int64?).map { ItemID(UInt64($0)) },
                    silhouette: row["silhouette"], bornRunID: row["born_run_id"],
                    matchedJaccard: row["matched_jaccard"],
                    label: row["label"], name: row["name"])
            }
        }
    }

    /// Names a stable cluster id of the current run, or removes its name (nil; any id). Returns
    /// false, writing nothing, when a name is given for an id the current run does not have. The
    /// name stays with the id when a later run drops it, for when it returns.
    @discardableResult
    public func nameCluster(
        _ cluster: Int, _ name: ClusterName?, at now: Int64 = Catalog.now()
    ) throws(CatalogError)
        -> Bool
    {
        try write("name cluster \(cluster)") { db in
            let current =
                try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM clusters c JOIN runs r ON r.id = c.run_id
                        WHERE r.is_current = 1 AND c.cluster = ?)
                        """, arguments: [cluster]) ?? false
            if let name {
                guard current else { return false }
                try db.execute(
                    sql: """
                        INSERT INTO cluster_names (cluster, name, named_at) VALUES (?, ?, ?)
                        ON CONFLICT (cluster) DO UPDATE SET name = excluded.name, named_at = excluded.named_at
                        """, arguments: [cluster, name.text, now])
            } else {
                try db.execute(sql: "DELETE FROM cluster_names WHERE cluster = ?", arguments: [cluster])
            }
            return name == nil || current
        }
    }

    /// The members of each non-noise cluster of a run: what the next run's clusters are matched against.
    public func memberships(run: Int64) throws(CatalogError) -> [Int: Set<UInt64>] {
        try read("memberships of run \(run)") { db in
            var members: [Int: Set<UInt64>] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT item_id, cluster FROM assignments WHERE run_id = ? AND cluster >= 0", arguments: [run])
            {
                members[row["cluster"], default: []].insert(UInt64(row["item_id"] as Int64))
            }
            return members
        }
    }

    /// The largest cluster id any kept run used, so new clusters get ids never seen before.
    public func largestClusterID() throws(CatalogError) -> Int {
        try read("largest cluster id") { db in try Int.fetchOne(db, sql: "SELECT max(cluster) FROM clusters") ?? -1 }
    }

    /// A run's assignments with paths: all of them (MAP), or one cluster's (CLUSTER).
    /// With `after` and `limit`, a page: items with ids above `after`, at most `limit` (RUN-MEMBERS).
    public func assignments(
        run: Int64, cluster: Int? = nil, after: UInt64 = 0, limit: Int? = nil
    ) throws(CatalogError) -> [(assignment: Assignment, path: String)] {
        try read("assignments of run \(run)") { db in
            let filter = cluster == nil ? "" : " AND a.cluster = ?"
            var arguments: StatementArguments = [run, Int64(clamping: after)]
            if let cluster { _ = arguments.append(contentsOf: [cluster]) }
            _ = arguments.append(contentsOf: [limit ?? -1])
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT a.*, i.path FROM assignments a JOIN items i ON i.id = a.item_id WHERE a.run_id = ? AND a.item_id > ?\(filter)
                    ORDER BY a.item_id LIMIT ?
                    """, arguments: arguments
            ).map { row in
                (
                    Assignment(
                        item: ItemID(UInt64(row["item_id"] as Int64)), cluster: row["cluster"],
                        probability: (row["probability"] as Double?).map(Float.init),
                        outlierScore: (row["outlier_score"] as Double?).map(Float.init),
                        map2: (Float(row["x2"] as Double? ?? 0), Float(row["y2"] as Double? ?? 0)),
                        map3: (
                            Float(row["x3"] as Double? ?? 0), Float(row["y3"] as Double? ?? 0),
                            Float(row["z3"] as Double? ?? 0)
                        ),
                        neighbours: Assignment.neighbours(fromBlob: row["neighbours"])),
                    row["path"] as String
                )
            }
        }
    }

    /// How many runs, newest first, include `cluster` without a gap: its age in runs.
    public func clusterAges(run: Int64) throws(CatalogError) -> [Int: Int] {
        try read("cluster ages") { db in
            var ages: [Int: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT c.cluster, count(*) AS age FROM clusters c JOIN runs r ON r.id = c.run_id
                    WHERE r.status = 'done' AND c.run_id <= ? AND c.run_id >= (SELECT born_run_id FROM clusters WHERE run_id = ? AND cluster = c.cluster)
                    GROUP BY c.cluster
                    """, arguments: [run, run])
            {
                ages[row["cluster"]] = row["age"]
            }
            return ages
        }
    }

    /// Indexed items the run has no assignment for: those indexed since it read its vectors.
    public func unplacedItems(run: Int64, limit: Int) throws(CatalogError) -> [ItemID] {
        try read("unplaced items of run \(run)") { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM items WHERE status = 'indexed' AND NOT EXISTS (SELECT 1 FROM assignments WHERE run_id = ? AND item_id = items.id)
                    ORDER BY id LIMIT ?
                    """, arguments: [run, limit]
            ).map { ItemID(UInt64($0)) }
        }
    }

    /// Adds (or replaces) assignments of a finished run: items placed between refits.
    public func addAssignments(run: Int64, _ assignments: [Assignment]) throws(CatalogError) {
        try write("place \(assignments.count) items in run \(run)") { db in
            guard
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?)", arguments: [run]) == true
            else { return }
            try Self.insert(assignments, run: run, in: db)
        }
    }

    /// Inserts (or replaces) assignments, skipping items deleted since the run read them.
    private static func insert(_ assignments: [Assignment], run: Int64, in db: Database) throws {
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO assignments (run_id, item_id, cluster, probability, outlier_score, x2, y2, x3, y3, z3, neighbours)
                SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM items WHERE id = ?)
                """)
        for a in assignments {
            let item = a.item.sqlValue
            try insert.execute(arguments: [
                run, item, a.cluster, a.probability.map { Double($0) }, a.outlierScore.map { Double($0) },
                Double(a.map2.0), Double(a.map2.1), Double(a.map3.0), Double(a.map3.1), Double(a.map3.2),
                a.neighboursBlob, item,
            ])
        }
    }
}
