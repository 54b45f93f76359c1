// A child process for the crash tests: writes batches of vectors to a store until it is killed,
// printing "committed N" after each commit so the parent knows what must survive.
//
// usage: kindred-store-writer DIR DIMENSION BATCH INITIAL_MAP_BYTES
// Vector of item i: component j = i + j/1000, so the parent can check every value.
import Foundation
import KindredCore
import KindredStore
import Logging

let arguments = CommandLine.arguments
guard arguments.count == 5, let dimension = Int(arguments[2]), let batch = Int(arguments[3]),
    let mapBytes = Int(arguments[4])
else {
    FileHandle.standardError.write(
        "usage: kindred-store-writer DIR DIMENSION BATCH INITIAL_MAP_BYTES\n".data(using: .utf8)!)
    exit(2)
}
var options = LMDBEnvironment.Options()
options.initialMapSize = mapBytes
let store = try VectorStore(
    directory: URL(fileURLWithPath: arguments[1]),
    spaces: [VectorSpace(name: "crash", dimension: dimension)],
    options: options, logger: Logger(label: "store-writer"))
var next = UInt64(try store.count(space: "crash")) + 1
var vector = [Float](repeating: 0, count: dimension)
while true {
    try store.write { txn throws(VectorStoreError) in
        for id in next..<(next + UInt64(batch)) {
            for j in 0..<dimension { vector[j] = Float(id) + Float(j) / 1000 }
            try txn.put(ItemID(id), vector, space: "crash")
        }
    }
    next += UInt64(batch)
    // Unbuffered, so the parent sees each line the moment the commit returns.
    FileHandle.standardOutput.write("committed \(next - 1)\n".data(using: .utf8)!)
}
