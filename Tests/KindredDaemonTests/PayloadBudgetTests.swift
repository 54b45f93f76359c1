import KindredProtocol
import KindredServer
import Testing

/// `PayloadBudget`: room is given back exactly once, whether a claim is released or dropped.
@Suite struct PayloadBudgetTests {
    func isBusy(_ result: Result<PayloadBudget.Claim, ProtocolError>) -> Bool {
        if case .failure(let error) = result { return error.code == .unavailable }
        return false
    }

    @Test func aReleasedClaimFreesItsRoomOnceAndItsEndFreesNothingMore() throws {
        let budget = PayloadBudget(limit: 100)
        var first: PayloadBudget.Claim? = try budget.claim(60).get()
        #expect(isBusy(budget.claim(50)))
        // Released (its answer computed) while something still holds it: the room is back now.
        first?.release()
        var second: PayloadBudget.Claim? = try budget.claim(100).get()
        // A second release, and the claim's end, give nothing more: the budget stays full.
        first?.release()
        first = nil
        #expect(isBusy(budget.claim(1)))
        // A claim dropped unreleased (a refused job, a closed connection) gives its room back.
        #expect(second?.bytes == 100)
        second = nil
        #expect(try budget.claim(100).get().bytes == 100)
    }
}
