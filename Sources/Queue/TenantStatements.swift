import GRDB

/// Every statement of the `tenants` table (`Tenant`): the owners the API knows, with their caps
/// on running jobs, which claims read (`JobStatements.claimCapped`).
enum TenantStatements {
    static let deleteAll: SQL = "DELETE FROM tenants"

    static func insert(_ tenant: Tenant) -> SQL {
        "INSERT INTO tenants (owner, name, max_running) VALUES (\(tenant.owner), \(tenant.name), \(tenant.maxRunning))"
    }

    /// Cached. Whether any owner has a cap on running jobs: claims then take `claimCapped`.
    static func anyCap() -> SQLRequest<Bool> {
        SQLRequest(literal: "SELECT EXISTS(SELECT 1 FROM tenants WHERE max_running IS NOT NULL)", cached: true)
    }

    static func all() -> SQLRequest<Row> {
        "SELECT owner, name, max_running FROM tenants ORDER BY owner"
    }
}

extension Tenant {
    init(row: Row) {
        self.init(owner: row["owner"], name: row["name"], maxRunning: row["max_running"])
    }
}
