import Foundation
import GRDB

/// Every statement of the `workers` table: one row per worker process, written by its heartbeat
/// (the `jobs` table's are in `JobStatements`, with the same conventions).
enum WorkerStatements {
    /// Records the worker's status; the first heartbeat of a worker id also records when it started.
    /// `images` is the status's image list as JSON.
    static func upsert(_ status: WorkerStatus, images: String) -> SQL {
        """
        INSERT INTO workers (id, pid, host, started_at, heartbeat_at, slots, busy, draining,
            docker_connected, engine_version, docker_error, images, pool_ready, egress_problem)
        VALUES (\(status.id), \(status.pid), \(status.host), \(sql: DatabaseClock.now), \(sql: DatabaseClock.now),
            \(status.slots), \(status.busy), \(status.draining), \(status.dockerConnected), \(status.engineVersion),
            \(status.dockerError), \(images), \(status.poolReady), \(status.egressProblem))
        ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
            slots = excluded.slots, busy = excluded.busy, draining = excluded.draining,
            docker_connected = excluded.docker_connected, engine_version = excluded.engine_version,
            docker_error = excluded.docker_error, images = excluded.images, pool_ready = excluded.pool_ready,
            egress_problem = excluded.egress_problem
        """
    }

    /// Workers whose last heartbeat is younger than `seconds`, the longest-running first.
    static func live(within seconds: Double) -> SQLRequest<Row> {
        "SELECT * FROM workers WHERE heartbeat_at > \(sql: DatabaseClock.now) - \(seconds) ORDER BY started_at"
    }

    /// Forgets a worker (it stopped).
    static func remove(id: String) -> SQL {
        "DELETE FROM workers WHERE id = \(id)"
    }
}

extension WorkerStatus {
    /// A `workers` row. An `images` column that is not a JSON list of strings reads as no images.
    init(row: Row) {
        let imagesJSON: String = row["images"] ?? "[]"
        self.init(
            id: row["id"],
            pid: row["pid"],
            host: row["host"],
            slots: row["slots"],
            busy: row["busy"],
            draining: row["draining"],
            dockerConnected: row["docker_connected"],
            engineVersion: row["engine_version"],
            dockerError: row["docker_error"],
            images: (try? JSONDecoder().decode([String].self, from: Data(imagesJSON.utf8))) ?? [],
            poolReady: row["pool_ready"] ?? 0,
            egressProblem: row["egress_problem"]
        )
    }
}
