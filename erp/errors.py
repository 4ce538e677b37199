"""Errors of the ERP sources, the reset and the hand-over."""

from ims.errors import ApplicationError


class ResetRefused(ApplicationError):
    """The reset as a whole cannot be applied (its time, a likely truncated file); nothing was
    changed. Each problem is one line of `problems`."""

    code = "erp_reset_refused"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            extra={"problems": problems},
        )


class ErpUnreachable(ApplicationError):
    """An ERP's API failed or answered what IMS cannot read; the message names the call."""

    code = "erp_unreachable"
    http_status = 502
