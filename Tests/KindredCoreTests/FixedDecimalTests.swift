import Foundation
import KindredCore
import Testing

/// `fixed(_:)` prints what `String(format: "%.Nf")` prints, for every value a verb could hand it.
@Suite struct FixedDecimalTests {
    @Test func matchesPrintfOnRandomScoresAndCoordinates() {
        var random = SeededRandom(seed: 17)
        for digits in 0...6 {
            for _ in 0..<20_000 {
                let magnitude = Double.random(in: -6...6, using: &random)
                let value = Double.random(in: -1...1, using: &random) * pow(10, magnitude)
                #expect(value.fixed(digits) == String(format: "%.\(digits)f", value), "\(value) at \(digits)")
                let single = Float(value)
                #expect(single.fixed(digits) == String(format: "%.\(digits)f", single), "\(single) at \(digits)")
            }
        }
    }

    @Test func matchesPrintfAtHalvesSignsAndEdges() {
        let values: [Double] = [
            0, -0.0, 0.5, 1.5, 2.5, -0.5, 0.00005, 0.00015, 0.12345, 0.99995, -0.99995, 1e-9, -1e-9, 0.1, 0.7, 1,
            -1, 123_456.78905, 4.5e9, -4.5e9, 1e20, .infinity, -.infinity, .nan, .ulpOfOne, .leastNonzeroMagnitude,
            .greatestFiniteMagnitude,
        ]
        for value in values {
            for digits in [0, 1, 2, 3, 4, 5] {
                #expect(value.fixed(digits) == String(format: "%.\(digits)f", value), "\(value) at \(digits)")
            }
        }
        // Every four-decimal half between 0 and 1, as a score could land on it.
        for k in 0..<10_000 {
            let value = (Double(k) + 0.5) / 10_000
            #expect(value.fixed(4) == String(format: "%.4f", value), "\(value)")
            #expect(Float(value).fixed(4) == String(format: "%.4f", Float(value)), "\(Float(value))")
        }
    }
}
