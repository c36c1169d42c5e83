"""CRS rows -> project records: one project per (donor, CRS id), its flows one per row and
amount, each with the row's own recipient; its recipient shares, sectors and areas weighed by
the rows' USD commitments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from importers.allocate import shares_from_weights
from importers.areas import Sector, infer_areas
from importers.mapping import Mapping
from importers.records import AreaRecord, Location, ProjectRecord, RecipientRecord, TransactionRecord

# CRS FlowCode -> IATI FlowType: ODA grants (11), ODA loans (13) and equity (19) are ODA (10);
# other official flows (14) are OOF (20); private development finance (30) stays 30.
FLOW_TYPES = {"11": "10", "12": "10", "13": "10", "19": "10", "14": "20", "30": "30"}
AREA_CACHE_SIZE = 50_000


class Place(NamedTuple):
    """A row's recipient as the registry keeps it: a country (ISO 3) or else a region (M49)."""

    country: str | None
    region: str | None


@lru_cache(maxsize=65_536)  # a CRS year repeats a few thousand distinct dates over its rows
def day(text: str) -> dt.date | None:
    """A CRS date cell (ISO, or the day-first and month-first forms of the OECD's files)."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        pass
    for fmt in ("%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class ProjectBuilder:
    """Makes the records of one file's projects; ``counts["transactions"]`` counts their flows."""

    filename: str
    prices: str
    mapping: Mapping
    counts: dict[str, int]
    _area_cache: dict[tuple, list[AreaRecord]] = field(default_factory=dict)

    def project(self, donor_code: str, key: str, index: list[int], col: dict) -> ProjectRecord:
        """The project of the rows ``index`` (positions in the columns ``col``)."""
        first = index[0]
        donor = self.mapping.donors.get(donor_code)
        title = next((col["title"][i] for i in index if col["title"][i]), "") or next(
            (col["short_description"][i] for i in index if col["short_description"][i]), ""
        )
        description = next((col["long_description"][i] for i in index if col["long_description"][i]), "") or next(
            (col["short_description"][i] for i in index if col["short_description"][i]), ""
        )
        record = ProjectRecord(
            reference=key[:120],
            title=(title or f"CRS activity {key}")[:500],
            org=donor.ref if donor else f"CRS-DONOR-{donor_code}",
            org_name=donor.name if donor else (col["donor_name"][first] or f"CRS donor {donor_code}"),
            description=description,
            location=Location(file=self.filename, row=int(col["row"][first])),
        )
        record.rows = [(None, int(col["row"][i])) for i in index]  # a problem on any row is the activity's
        # Recipients weighted by USD commitments (else equal), summed over the project's rows.
        weights: dict[Place, Decimal] = {}
        unallocated = Decimal(0)  # the weight of rows whose recipient is no place
        sectors: dict[str, Decimal] = {}
        for i in index:
            weight = col["usd_weight"][i]
            mapped = self.mapping.recipients.get(col["recipient_code"][i])
            place = None
            if mapped and (mapped.iso3 or mapped.region):
                place = Place(mapped.iso3, None if mapped.iso3 else mapped.region)
                weights[place] = weights.get(place, Decimal(0)) + abs(weight)
            else:
                unallocated += abs(weight)
            purpose = col["purpose_code"][i]
            sectors[purpose] = sectors.get(purpose, Decimal(0)) + abs(weight)
            self._transactions(record, i, col, place)
        if unallocated > 0:
            # A row's flows carry the row's own recipient; the flows of rows without a place have
            # none, and the project's list is then the unallocated row alone, so that they are
            # never spread over the recipients of the other rows (warned in codes.check_codes).
            record.recipients = [RecipientRecord(share=Decimal(100))]
        elif weights:
            # Every flow names its recipient: the list (by USD commitments) splits only the need.
            places = list(weights)
            record.recipients = [
                RecipientRecord(country=p.country, region=p.region, share=s)
                for p, s in zip(places, shares_from_weights([weights[p] for p in places]), strict=True)
            ]
        # 3-digit categories only infer areas; any other code goes to the registry's rule, which
        # takes 5-digit purpose codes and refuses the rest (the same verdict as on every path).
        record.sectors = [c for c in sectors if c and not (len(c) == 3 and c.isdigit())]
        record.areas = self._areas(record, sectors)
        record.planned_start = day(col["start_date"][first])
        record.planned_end = day(col["end_date"][first])
        if record.planned_start and record.planned_end and record.planned_start > record.planned_end:
            record.planned_end = None
        record.status = "completed" if record.planned_end and record.planned_end < dt.date.today() else "active"
        return record

    def _areas(self, record: ProjectRecord, sectors: dict[str, Decimal]) -> list[AreaRecord]:
        """The paragraph 23 areas inferred from the purpose codes (weighed) and the words."""
        total = sum(sectors.values())
        sector_list = [
            Sector(c, "1" if len(c) == 5 else "2", (w * 100 / total) if total > 0 else None) for c, w in sectors.items()
        ]
        # Rows of one activity repeat across recipients and years, and titles repeat across
        # activities: inferring once per distinct input keeps a CRS year fast.
        if len(sector_list) == 1:  # one sector: its percentage is 100 whatever the weights
            sector_list = [Sector(sector_list[0].code, sector_list[0].vocabulary, None)]
        cache_key = (
            tuple(sorted((s.code, s.percentage) for s in sector_list)),
            record.title,
            record.description,
        )
        areas = self._area_cache.get(cache_key)
        if areas is None:
            areas = infer_areas(sector_list, [record.title, record.description], self.mapping)
            if len(self._area_cache) < AREA_CACHE_SIZE:
                self._area_cache[cache_key] = areas
        return [AreaRecord(a.code, a.share, a.inferred) for a in areas]

    def _transactions(self, record: ProjectRecord, i: int, col: dict, place: Place | None) -> None:
        """The row's commitment and disbursement, each with the row's recipient (a CRS row is one
        activity x recipient x year: its money is that recipient's, whatever the project's others)."""
        year = int(col["year"][i])
        # CRS flows are annual totals: dated on the commitment date when given in that year,
        # else on 31 December of the year they were reported for.
        committed = day(col["commitment_date"][i])
        value_date = committed if committed and committed.year == year else dt.date(year, 12, 31)
        common = {
            "flow_type": FLOW_TYPES.get(col["flow_code"][i], col["flow_code"][i] or None),
            "finance_type": col["finance_type"][i] or None,
            "aid_type": col["aid_type"][i] or None,
            "tied_status": tied_status(col, i),
            "location": Location(file=self.filename, row=int(col["row"][i])),
        }
        constant = self.prices == "constant"
        for kind in ("commitment", "disbursement"):
            amount = col[kind][i]
            if amount is None or not amount.is_finite() or amount == 0:
                continue
            record.transactions.append(
                TransactionRecord(
                    type=kind,
                    amount=amount,
                    currency=col[f"{kind}_currency"][i],
                    value_date=dt.date(year, 12, 31) if kind == "disbursement" else value_date,
                    description=f"CRS {year}, recipient {col['recipient_code'][i]}"
                    + (", constant prices (USD_Commitment_Defl/USD_Disbursement_Defl)" if constant else ""),
                    price_basis="constant" if constant else None,
                    recipient_country=place.country if place else None,
                    recipient_region=place.region if place else None,
                    **common,
                )
            )
            self.counts["transactions"] += 1


# CRS columns of the commitment by tying status -> IATI TiedStatus code.
TIED_COLUMNS = (("usd_untied", "5"), ("usd_partially_tied", "3"), ("usd_tied", "4"))


def tied_status(col: dict, i: int) -> str | None:
    """The IATI TiedStatus code of a CRS row: the tying status whose column (USD_AmountUntied,
    USD_AmountPartialTied, USD_AmountTied) holds the row's money when exactly one does.
    None (unknown, never counted as untied) when none does, or when the row splits its money
    over several statuses (a flow carries one status)."""
    found = []
    for column, code in TIED_COLUMNS:
        cell = (col.get(column, ())[i] if column in col else "") or ""
        try:
            amount = Decimal(cell.strip().replace(",", "")) if cell.strip() else Decimal(0)
        except (InvalidOperation, AttributeError):
            continue
        if amount.is_finite() and amount != 0:
            found.append(code)
    return found[0] if len(found) == 1 else None
