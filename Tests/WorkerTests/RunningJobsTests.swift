import Queue
import Testing

@testable import Worker

/// Which runs a database answer may stop (`RunningJobs.stopAll`).
struct RunningJobsTests {
    @Test("a run claimed while a heartbeat was on its way is not stopped by that heartbeat's answer")
    func claimDuringHeartbeat() async {
        let running = RunningJobs()
        let old = Lease(jobID: 1, token: "a")
        let lost = Lease(jobID: 2, token: "b")
        await running.add(old, publicID: "old")
        await running.add(lost, publicID: "lost")
        let sent = await running.leases  // the heartbeat names these…
        await running.add(Lease(jobID: 3, token: "c"), publicID: "new")  // …and a claim lands meanwhile
        let stopped = await running.stopAll(among: sent, except: [old])  // the answer: only `old` is held
        #expect(stopped == ["lost"])
        #expect(await running.stopAll(among: await running.leases, except: [old]).sorted() == ["new"])
    }
}
