"""The reminder policies Politely ships with, as the TOML an admin would write.

Kept as TOML text (not Python objects) so the built-in default goes through the same
validation as config/politely.toml; a test checks that the two stay the same.
"""

DEFAULT_POLICY_TOML = """\
# ---------------------------------------------------------------------------
# Reminder policies
#
# A policy is a named ladder of steps. Each step is placed `offset_days` from
# the invoice's due date (negative = before it) and sent in the sending window
# on a sending day, in the customer's time zone (else the organisation's).
# A step whose day is not a sending day moves to the next sending day. If
# several steps are due at once (late import, downtime) only the latest is
# sent; "upcoming" steps (negative offset) are never sent on or after the due
# date.
#
# Which policy a customer gets: the policy named on the customer, else the
# first matching [[policy.rules]] entry (in file order), else policy.default.
# ---------------------------------------------------------------------------

[policy]
default = "standard"

# Customers tagged "key_account" get the gentle ladder with an account call.
[[policy.rules]]
policy = "key_account"
tags_any = ["key_account"]

# Customers who paid two or more earlier invoices late get the firmer ladder.
# Rule keys: policy (required), tags_any = [...] (any one tag matches),
# min_late_invoices / max_late_invoices (count of earlier late-paid invoices;
# max_late_invoices = 0 means "never late before"). All given keys must match.
[[policy.rules]]
policy = "repeat_late"
min_late_invoices = 2

# Policy keys (all optional except steps):
#   window                "HH:MM-HH:MM" local time, end exclusive (default 09:00-17:00)
#   weekdays              sending days: mon tue wed thu fri sat sun (default mon-fri)
#   skip_public_holidays  no sending on the customer's country's public holidays (default true)
#   late_fee_note         text about late fees / interest shown in firm steps ("" = none)
#   promise_max_days      furthest promise-to-pay date a customer may pick (default 30)
#   promise_grace_days    days after a promised date before reminders resume (default 2)
#   reply_pause_days      days reminders pause after a human reply (default 5)
#   paid_claim_pause_days days reminders pause after "I've already paid" (default 7)
#   plan_max_instalments  most instalments a customer may choose in a payment plan (default 6)
#   plan_max_days         last instalment at most this many days away (default 180)
#   plan_min_instalment_percent  smallest instalment, as a percentage of the amount due (default 10)
# Step keys:
#   key          unique in the policy; also names the email template
#   offset_days  days from the due date; strictly increasing down the list
#   tone         friendly | gentle | firm | final (leave out for escalate)
#   action       "email" (default) or "escalate": no email, the invoice goes to a human
#                (must be the last step)
#   call_task    true = also put a call task on the admin worklist
# A step key means the same template and tone in every shipped policy, so a
# policy that wants a different tone uses a different key.

[policies.standard]
window = "09:00-17:00"
weekdays = ["mon", "tue", "wed", "thu", "fri"]
skip_public_holidays = true
late_fee_note = ""
promise_max_days = 30
promise_grace_days = 2
reply_pause_days = 5
steps = [
  { key = "upcoming",     offset_days = -3, tone = "friendly" },
  { key = "due_today",    offset_days = 0,  tone = "friendly" },
  { key = "overdue_3",    offset_days = 3,  tone = "gentle" },
  { key = "overdue_10",   offset_days = 10, tone = "gentle" },
  { key = "overdue_21",   offset_days = 21, tone = "firm" },
  { key = "overdue_31",   offset_days = 31, tone = "firm", call_task = true },
  { key = "final_notice", offset_days = 60, tone = "final" },
  { key = "escalate",     offset_days = 90, action = "escalate" },
]

# Customers worth more than a faster payment: never firm. An account manager
# calls at three weeks instead of a firm email.
[policies.key_account]
window = "09:00-17:00"
weekdays = ["mon", "tue", "wed", "thu", "fri"]
skip_public_holidays = true
late_fee_note = ""
promise_max_days = 45
promise_grace_days = 3
reply_pause_days = 7
steps = [
  { key = "upcoming",        offset_days = -3, tone = "friendly" },
  { key = "due_today",       offset_days = 0,  tone = "friendly" },
  { key = "overdue_3",       offset_days = 3,  tone = "gentle" },
  { key = "overdue_10",      offset_days = 10, tone = "gentle" },
  { key = "account_call_21", offset_days = 21, tone = "gentle", call_task = true },
  { key = "overdue_45",      offset_days = 45, tone = "gentle" },
  { key = "escalate",        offset_days = 90, action = "escalate" },
]

# Customers who have paid late before: firm from the first week, a call at
# two weeks, a final notice at a month.
[policies.repeat_late]
window = "09:00-17:00"
weekdays = ["mon", "tue", "wed", "thu", "fri"]
skip_public_holidays = true
late_fee_note = ""
promise_max_days = 14
promise_grace_days = 1
reply_pause_days = 3
steps = [
  { key = "upcoming",     offset_days = -3, tone = "friendly" },
  { key = "due_today",    offset_days = 0,  tone = "friendly" },
  { key = "overdue_3",    offset_days = 3,  tone = "gentle" },
  { key = "overdue_7",    offset_days = 7,  tone = "firm" },
  { key = "overdue_14",   offset_days = 14, tone = "firm", call_task = true },
  { key = "final_notice", offset_days = 30, tone = "final" },
  { key = "escalate",     offset_days = 60, action = "escalate" },
]
"""
