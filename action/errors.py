"""One small exception family for the Action, with messages a user can act on."""


class ActionError(Exception):
    """Base class: its message is printed as a workflow ``::error::`` line."""


class PayloadError(ActionError):
    """The encrypted request could not be opened or understood."""


class AttachmentError(ActionError):
    """An attachment could not be decoded."""


class LLMError(ActionError):
    """The model gateway failed in a way retries did not cure."""


class BudgetExhausted(LLMError):
    """The gateway says the account's budget is spent; retrying cannot help."""


class ProtocolError(ActionError):
    """The model's answer holds no usable file or edit block."""


class GitError(ActionError):
    """A git command failed."""


class NotifyError(ActionError):
    """The evaluator never answered 200 before the deadline; ``status`` is its last answer."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # 0 when the last attempt got no HTTP answer at all


class SettingsError(ActionError):
    """A required input is missing or malformed."""
