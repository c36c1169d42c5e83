"""Small IATI activity files built inside the tests."""

# ruff: noqa: E501  (inline XML and CSV fixtures read best on one line each)

from __future__ import annotations


def activity(
    identifier: str = "XM-TEST-1-P1",
    *,
    title: str = "<narrative>Rural connectivity for district schools</narrative>",
    description: str = "<narrative>Fibre and training.</narrative>",
    status: str = "2",
    recipients: str = '<recipient-country code="KE" percentage="100"/>',
    sectors: str = '<sector vocabulary="1" code="22020" percentage="100"/>',
    transactions: str = "",
    budgets: str = "",
    dates: str = '<activity-date type="1" iso-date="2020-01-01"/><activity-date type="3" iso-date="2022-12-31"/>',
    currency: str = "USD",
    extra: str = "",
    org: str = "XM-TEST-1",
) -> str:
    """One iati-activity element as text."""
    tx = transactions or (
        '<transaction><transaction-type code="2"/><transaction-date iso-date="2020-02-01"/>'
        '<value currency="USD" value-date="2020-02-01">1000.00</value></transaction>'
    )
    return f"""
  <iati-activity default-currency="{currency}" xml:lang="en">
    <iati-identifier>{identifier}</iati-identifier>
    <reporting-org ref="{org}" type="10"><narrative>Test donor</narrative></reporting-org>
    <title>{title}</title>
    <description type="1">{description}</description>
    <participating-org role="1" ref="{org}"><narrative>Test donor</narrative></participating-org>
    <participating-org role="4"><narrative>Implementer Ltd</narrative></participating-org>
    {extra}
    <activity-status code="{status}"/>
    {dates}
    {recipients}
    {sectors}
    <default-flow-type code="10"/>
    <default-finance-type code="110"/>
    <default-aid-type code="C01"/>
    {budgets}
    {tx}
  </iati-activity>"""


def document(*activities: str, version: str = "2.03", prolog: str = "") -> bytes:
    """An iati-activities document holding the activities."""
    body = "".join(activities) or activity()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}'
        f'<iati-activities version="{version}" generated-datetime="2024-01-01T00:00:00Z">{body}\n'
        "</iati-activities>\n"
    ).encode()
