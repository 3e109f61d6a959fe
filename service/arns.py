"""ARNs of the service's resources (SERVICE-SPEC §2)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .protocol import ServiceError


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass
class Arns:
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def prefix(self) -> str:
        return f"arn:{partition(self.region)}:states:{self.region}:{self.account}"

    def machine(self, name: str) -> str:
        return f"{self.prefix}:stateMachine:{name}"

    def execution(self, machine: str, name: str) -> str:
        return f"{self.prefix}:execution:{machine}:{name}"

    def express(self, machine: str, name: str, uid: str) -> str:
        return f"{self.prefix}:express:{machine}:{name}:{uid}"

    def activity(self, name: str) -> str:
        return f"{self.prefix}:activity:{name}"

    def role(self) -> str:
        return f"arn:{partition(self.region)}:iam::{self.account}:role/StepFunctionsLocalRole"


def split(arn: str, kinds: tuple[str, ...]) -> tuple[str, list[str]]:
    """(resource type, the parts after it) of a Step Functions ARN, or InvalidArn."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or not parts[1].startswith("aws"):
        raise ServiceError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
    kind = parts[5]
    if kind not in kinds:
        raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {kind}'")
    return kind, parts[6:]


def machine_parts(arn: str) -> tuple[str, str | None]:
    """(machine name, qualifier: version number or alias name or None) of a state machine ARN."""
    _, rest = split(arn, ("stateMachine",))
    if len(rest) > 2 or not rest[0]:
        raise ServiceError("InvalidArn", f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
    return rest[0], rest[1] if len(rest) == 2 else None


# arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::[^:/]+:role/.+", re.DOTALL)


def check_role(arn: str) -> None:
    """A state machine's ``roleArn`` must name an IAM role: AWS answers ``InvalidArn`` "Invalid
    Role Arn: '<execution-role-arn>'" to text that is no ARN (an AWS run of a public notebook left
    with its placeholder, aws/amazon-sagemaker-examples#2432), and Step Functions Local (which
    checks as AWS does) the same to a policy's ARN, 'arn:aws:iam::aws:policy/AWSBatchFullAccess'
    (localstack/localstack#2027). What else AWS checks in one (the account's digits) is not known."""
    if not _ROLE.fullmatch(arn):
        raise ServiceError("InvalidArn", f"Invalid Role Arn: '{arn}'")
