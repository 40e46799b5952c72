"""The GitHub side of the flow: the PyGithub gateway (`gateway`, `transport`, `publishing`), what GitHub tells us
(`events`, `webhook_store`, `polling`, `models`), the rules on it (`approvals`, `work_item`) and what we tell it
(`rendering`, `comments`, `split`, `reporter`)."""

from .approvals import ApprovalDecision, approval_for, decide
from .errors import GitHubError, GitHubUnavailable
from .rendering import (check_name, check_outcome, check_summary, comment_marker, plan_comment, split_comment,
                       syntax_annotations)
from .gateway import GitHubGateway
from .models import (Approval, CheckOutcome, Comment, PullRequest, RateBudget, Release, Review, Tag)
from .transport import RetryPolicy
from .work_item import check_work_item, referenced_issues, work_item_outcome

__all__ = [
    "Approval", "ApprovalDecision", "CheckOutcome", "Comment", "GitHubError", "GitHubGateway", "GitHubUnavailable",
    "PullRequest", "RateBudget", "Release", "RetryPolicy", "Review", "Tag", "approval_for",
    "check_name", "check_outcome", "check_summary", "check_work_item", "comment_marker", "decide", "plan_comment",
    "referenced_issues", "split_comment", "syntax_annotations", "work_item_outcome",
]
