"""Runs last (file order): after every attack above, nothing of the main instance's deployment is
left in the engine, in any state (running, exited, created)."""


def test_no_container_of_the_deployment_remains(service, record, tools):
    deployment = service.deployment_id()
    label = f"code-runner.deployment={deployment}"
    try:
        tools.poll(lambda: not tools.containers(label), 30, 0.25, f"containers labelled {label} to go")
        left = []
    except AssertionError:
        left = tools.docker("ps", "-a", "--filter", f"label={label}",
                            "--format", "{{.ID}} {{.Status}} {{.Label \"code-runner.job\"}}").splitlines()
    record("containers left by the whole suite", left, None)
    assert left == [], left
