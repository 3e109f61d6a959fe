"""Two `asl serve` processes on one PostgreSQL store, changing the same resources at once
through real boto3 calls from threads: every change is one transaction with the resource's row
locked (`Store.revise_resource` / `revise_family`), so no change is lost (real processes, a real
PostgreSQL server).

- TagResource / UntagResource of one state machine and one activity through both servers: every
  tag given is kept, every tag taken away is gone.
- UpdateStateMachine calls publishing a version, through both servers at once: the versions are
  numbered 1, 2, 3... once each, and each version holds what the updates before it (in version
  order) wrote; none of them undoes another's change, nor a tag given meanwhile.
- PublishStateMachineVersion of one revision through both servers at once: one version.
- CreateStateMachineAlias / UpdateStateMachineAlias naming a version that DeleteStateMachineVersion
  deletes through the other server at the same moment: one of the two is refused
  (ResourceNotFound, or ConflictException "referenced by an alias"); an alias never names a
  version that is gone.

Bounded: a few dozen calls a round, a few rounds."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from test_service import ROLE, boto3, machine  # noqa: F401 - boto3: skips without it
from test_service_callbacks import HANDLERS
from test_service_shared_races import two_servers


@pytest.fixture
def servers(tmp_path: Path, postgres_url):
    with two_servers(tmp_path, postgres_url, HANDLERS, "--poll", "0.2") as pair:
        yield pair


def definition(i: int) -> str:
    return machine({"P": {"Type": "Pass", "Result": {"i": i}, "End": True}}, "P")


def role(i: int) -> str:
    return f"arn:aws:iam::123456789012:role/r{i}"


def code_of(call, **kwargs) -> str:
    """"ok", or the error code the call gets."""
    try:
        call(**kwargs)
        return "ok"
    except call.__self__.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"]


def tag_keys(sfn, arn: str) -> set[str]:
    return {t["key"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_tags_and_published_updates_through_both_servers(servers):
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client(max_pool_connections=16)
    clients = (one, two)
    arn = one.create_state_machine(name="shared", definition=definition(0), roleArn=ROLE,
                                   tags=[{"key": "first", "value": "0"}])["stateMachineArn"]
    activity = two.create_activity(name="work")["activityArn"]
    with ThreadPoolExecutor(12) as pool:
        # every tag kept, given through either server at once, to a machine and an activity
        calls = [pool.submit(clients[i % 2].tag_resource, resourceArn=resource, tags=[{"key": f"k{i}", "value": "v"}])
                 for i in range(24) for resource in (arn, activity)]
        for call in calls:
            call.result()
        given = {f"k{i}" for i in range(24)}
        for sfn in clients:
            assert tag_keys(sfn, arn) == given | {"first"} and tag_keys(sfn, activity) == given
        # half taken away while others are given
        calls = [pool.submit(clients[i % 2].untag_resource, resourceArn=resource, tagKeys=[f"k{i}"])
                 for i in range(0, 24, 2) for resource in (arn, activity)]
        calls += [pool.submit(clients[i % 2].tag_resource, resourceArn=resource, tags=[{"key": f"n{i}", "value": "v"}])
                  for i in range(12) for resource in (arn, activity)]
        for call in calls:
            call.result()
        kept = {f"k{i}" for i in range(1, 24, 2)} | {f"n{i}" for i in range(12)}
        for sfn in clients:
            assert tag_keys(sfn, arn) == kept | {"first"} and tag_keys(sfn, activity) == kept

        # updates that publish, through both servers at once, some changing the definition, some
        # the role, while tags are given
        def update(i: int) -> tuple[int, str]:
            change = {"definition": definition(i)} if i % 2 else {"roleArn": role(i)}
            out = clients[i % 3 % 2].update_state_machine(stateMachineArn=arn, publish=True, **change)
            return i, out["stateMachineVersionArn"]
        updates = [pool.submit(update, i) for i in range(1, 25)]
        tags = [pool.submit(clients[i % 2].tag_resource, resourceArn=arn, tags=[{"key": f"u{i}", "value": "v"}])
                for i in range(12)]
        published = [f.result() for f in updates]
        for call in tags:
            call.result()
    numbers = sorted(int(version.rsplit(":", 1)[1]) for _, version in published)
    assert numbers == list(range(1, 25)), numbers  # once each, none skipped
    # each version holds what the updates before it wrote: none lost the other's change
    state = {"definition": definition(0), "roleArn": ROLE}
    for i, version in sorted(published, key=lambda p: int(p[1].rsplit(":", 1)[1])):
        state["definition" if i % 2 else "roleArn"] = definition(i) if i % 2 else role(i)
        described = two.describe_state_machine(stateMachineArn=version)
        assert (json.loads(described["definition"]), described["roleArn"]) == (
            json.loads(state["definition"]), state["roleArn"]), (i, version)
    for sfn in clients:
        described = sfn.describe_state_machine(stateMachineArn=arn)
        assert (json.loads(described["definition"]), described["roleArn"]) == (
            json.loads(state["definition"]), state["roleArn"])
        assert tag_keys(sfn, arn) == kept | {"first"} | {f"u{i}" for i in range(12)}
        listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
        assert [v["stateMachineVersionArn"] for v in listed] == [f"{arn}:{n}" for n in range(24, 0, -1)]


def test_one_revision_published_through_both_servers_is_one_version(servers):
    """AWS (API PublishStateMachineVersion): publishing a revision published already answers its
    version. Publications of one revision through both servers at once: one version."""
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client(max_pool_connections=16)
    arn = one.create_state_machine(name="published", definition=definition(0), roleArn=ROLE)["stateMachineArn"]
    with ThreadPoolExecutor(12) as pool:
        for round in range(1, 5):
            if round > 1:
                one.update_state_machine(stateMachineArn=arn, definition=definition(round))
            revision = two.describe_state_machine(stateMachineArn=arn).get("revisionId")
            calls = [pool.submit((one, two)[i % 2].publish_state_machine_version, stateMachineArn=arn,
                                 **({"revisionId": revision} if revision and i % 3 else {})) for i in range(12)]
            assert {f.result()["stateMachineVersionArn"] for f in calls} == {f"{arn}:{round}"}
            assert len(one.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]) == round


def test_aliases_naming_a_version_deleted_through_the_other_server(servers):
    """CreateStateMachineAlias (and UpdateStateMachineAlias) through one server naming a version
    that DeleteStateMachineVersion deletes through the other at the same moment: AWS refuses to
    delete a version an alias names (ConflictException) and to route an alias to a version that
    is not there (ResourceNotFound); across the servers exactly one of the two calls succeeds,
    and every alias names versions that are there."""
    a, b = servers
    one, two = a.client(max_pool_connections=16), b.client(max_pool_connections=16)
    arn = one.create_state_machine(name="aliased", definition=definition(0), roleArn=ROLE,
                                   publish=True)["stateMachineArn"]
    versions = [f"{arn}:1"] + [one.update_state_machine(stateMachineArn=arn, definition=definition(i), publish=True)[
        "stateMachineVersionArn"] for i in range(1, 21)]
    outcomes: list[tuple[str, str]] = []
    with ThreadPoolExecutor(4) as pool:
        for i, version in enumerate(versions[1:], 1):
            route = [{"stateMachineVersionArn": version, "weight": 100}]
            if i <= 10:  # a new alias naming the version
                name = f"a{i}"

                def alias() -> str:
                    return code_of(one.create_state_machine_alias, name=name, routingConfiguration=route)
            else:  # an alias (of version 1) turned to it
                live = one.create_state_machine_alias(name=f"a{i}", routingConfiguration=[
                    {"stateMachineVersionArn": versions[0], "weight": 100}])["stateMachineAliasArn"]

                def alias() -> str:
                    return code_of(one.update_state_machine_alias, stateMachineAliasArn=live,
                                   routingConfiguration=route)

            def delete() -> str:
                return code_of(two.delete_state_machine_version, stateMachineVersionArn=version)
            # (the deletion sent first every other time)
            first, second = (alias, delete) if i % 2 else (delete, alias)
            calls = {f: pool.submit(f) for f in (first, second)}
            aliased, deleted = calls[alias], calls[delete]
            outcomes.append((aliased.result(), deleted.result()))
    assert set(outcomes) <= {("ok", "ConflictException"), ("ResourceNotFound", "ok")}, outcomes
    assert len(set(outcomes)) == 2, outcomes  # both sides of the race were seen
    for sfn in (one, two):
        there = {v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
            "stateMachineVersions"]}
        for alias in sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]:
            routing = sfn.describe_state_machine_alias(stateMachineAliasArn=alias["stateMachineAliasArn"])[
                "routingConfiguration"]
            assert {r["stateMachineVersionArn"] for r in routing} <= there, (alias, there)
        for i, (aliased, deleted) in enumerate(outcomes, 1):
            assert (versions[i] in there) == (deleted != "ok"), (i, aliased, deleted)
