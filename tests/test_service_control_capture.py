"""`asl serve` against AWS's answers in the raw capture radkawar/stackd
testdata/aws/stepfunctions/control_lifecycle.json (boto3 against us-west-2, September 2026):
versions, aliases, tags and the definition an execution ran, each test naming the capture's
labels it replays. Driven through a real server process with boto3."""
from __future__ import annotations

import pytest

from test_service import ROLE, Server, boto3, error_of, machine, wait_done  # noqa: F401 - boto3: skips without it

# the capture's first definition, as given: blanks, CRLFs, an escaped lambda and 1.00 (D1)
SPACED = (' \n{\r\n  "Comment": "retained spacing and unicode \\u03bb",\r\n  "StartAt": "Result",\r\n  '
          '"States": { "Result": { "Type": "Pass", "Result": {"revision": "one", "number": 1.00}, "End": true } }\r\n}\n ')
SECOND = '{"Comment":"second revision","StartAt":"Result","States":{"Result":{"Type":"Pass","Result":{"revision":"two"},"End":true}}}'


@pytest.fixture(scope="module")
def sfn(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("control"), "memory").start()
    yield srv.client()
    srv.stop()


def test_an_execution_keeps_the_definition_text_as_it_was_given(sfn):
    # snapshot-before-update, snapshot-after-update, alias-snapshot-retained-after-delete: the
    # text DescribeStateMachine gives, spacing and "1.00" kept, also after an update; the
    # execution's output is the value ("number":1.0, initial-execution-terminal-0)
    arn = sfn.create_state_machine(name="spaced", definition=SPACED, roleArn=ROLE, publish=True)["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name="initial-snapshot", input="{}")["executionArn"]
    assert sfn.describe_state_machine_for_execution(executionArn=run)["definition"] == SPACED
    sfn.update_state_machine(stateMachineArn=arn, definition=SECOND, publish=True, versionDescription="second")
    assert wait_done(sfn, run)["output"] == '{"revision":"one","number":1.0}'
    assert sfn.describe_state_machine_for_execution(executionArn=run)["definition"] == SPACED
    version_run = sfn.start_execution(stateMachineArn=f"{arn}:1", name="immutable-version")["executionArn"]
    assert sfn.describe_state_machine_for_execution(executionArn=version_run)["definition"] == SPACED


def test_publishing_the_current_revision_again_gives_its_version_whatever_the_description(sfn):
    # update-publish-second published :2 "second"; publish-current-idempotent (its revisionId,
    # description "different-description") answered :2, and describe-second-after-idempotent-
    # publish still described it "second"; versions-page-0/1 list :2 and :1 only
    arn = sfn.create_state_machine(name="publish-again", definition=SPACED, roleArn=ROLE, publish=True,
                                   versionDescription="initial")["stateMachineArn"]
    update = sfn.update_state_machine(stateMachineArn=arn, definition=SECOND, publish=True, versionDescription="second")
    assert update["stateMachineVersionArn"] == f"{arn}:2"
    again = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=update["revisionId"],
                                              description="different-description")
    assert again["stateMachineVersionArn"] == f"{arn}:2"
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:2")["description"] == "second"
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
        "stateMachineVersions"]] == [f"{arn}:2", f"{arn}:1"]


def test_an_alias_has_an_update_date_once_updated_and_one_not_there_is_not_found(sfn):
    arn = sfn.create_state_machine(name="aliased", definition=SECOND, roleArn=ROLE, publish=True)["stateMachineArn"]
    route = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=route,
                                           description="initial-route")["stateMachineAliasArn"]
    # alias-describe-initial: no updateDate
    assert "updateDate" not in sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    # alias-update-replace-route then alias-describe-after-rejected-update: the update's date
    updated = sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="")["updateDate"]
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["updateDate"] == updated
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    # alias-describe-deleted
    assert error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)[:2] == (
        "ResourceNotFound", f"Resource not found: '{alias}'")


def test_a_deleted_version_is_not_started_but_its_executions_are_still_listed(sfn):
    arn = sfn.create_state_machine(name="versions", definition=SECOND, roleArn=ROLE, publish=True)["stateMachineArn"]
    version = f"{arn}:1"
    run = sfn.start_execution(stateMachineArn=version, name="immutable-version")["executionArn"]
    wait_done(sfn, run)
    sfn.delete_state_machine_version(stateMachineVersionArn=version)  # delete-unreferenced-version
    missing = f"State Machine Version Does Not Exist: '{version}'"
    # describe-deleted-version, start-deleted-version
    assert error_of(sfn.describe_state_machine, stateMachineArn=version)[:2] == ("StateMachineDoesNotExist", missing)
    assert error_of(sfn.start_execution, stateMachineArn=version, name="deleted-version")[:2] == (
        "StateMachineDoesNotExist", missing)
    # executions-version-filter: the executions that ran the version, listed after its deletion
    listed = sfn.list_executions(stateMachineArn=version)["executions"]
    assert [(e["name"], e["stateMachineVersionArn"]) for e in listed] == [("immutable-version", version)]


def test_tags_are_listed_in_awss_order_and_a_version_has_none(sfn):
    arn = sfn.create_state_machine(name="tagged", definition=SECOND, roleArn=ROLE, publish=True,
                                   tags=[{"key": "Owner", "value": "o"}, {"key": "Mode", "value": "initial"}])[
        "stateMachineArn"]

    def keys() -> list:
        return [(t["key"], t["value"]) for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]]
    assert keys() == [("Owner", "o"), ("Mode", "initial")]  # tags-after-idempotent-create
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "Mode", "value": "changed"}, {"key": "Empty", "value": ""},
                                            {"key": "mode", "value": "case-distinct"}])
    # tags-after-merge: a java.util.HashMap's order (buckets of mode, Empty and Owner, Mode: 0, 2, 2,
    # 7), the tags just given before those kept
    assert keys() == [("mode", "case-distinct"), ("Empty", ""), ("Owner", "o"), ("Mode", "changed")]
    sfn.untag_resource(resourceArn=arn, tagKeys=["Empty", "Missing"])
    assert keys() == [("mode", "case-distinct"), ("Owner", "o"), ("Mode", "changed")]  # tags-after-remove
    # tags-version: none; tag-version-rejected
    assert sfn.list_tags_for_resource(resourceArn=f"{arn}:1")["tags"] == []
    assert error_of(sfn.tag_resource, resourceArn=f"{arn}:1", tags=[{"key": "Version", "value": "one"}])[:2] == (
        "ResourceNotFound", f"Resource not found: '{arn}:1'")
