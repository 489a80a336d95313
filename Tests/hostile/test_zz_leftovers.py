"""Runs last (file order): after every attack above, nothing of the main instance's deployment is
left in the engine but its idle warm-pool containers (running, labelled `code-runner.job=pool`):
no container of any job, and nothing exited or merely created."""


def test_no_container_of_the_deployment_remains(service, record, tools):
    label = f"code-runner.deployment={service.deployment_id()}"

    def leftovers():
        rows = tools.docker("ps", "-a", "--filter", f"label={label}",
                            "--format", '{{.ID}} {{.State}} {{.Label "code-runner.job"}}').splitlines()
        return [r for r in rows if r.split()[1:] != ["running", "pool"]]
    try:
        tools.poll(lambda: not leftovers(), 30, 0.25, f"containers labelled {label} to go")
        left = []
    except AssertionError:
        left = leftovers()
    pool = len(tools.containers(label)) - len(left)
    record("containers left by the whole suite (idle warm ones excluded)", {"left": left, "idle_warm": pool}, None)
    assert left == [], left
