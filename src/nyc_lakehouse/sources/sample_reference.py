"""Reference tables behind the bundled sample generator (:mod:`nyc_lakehouse.sources.sample`).

Hand-written from public knowledge of NYC: real ZIP codes with approximate centroids and
community districts, the common 311 complaint types with their agencies, descriptors and typical
resolution times, and the 911 End-to-End incident types with typical weekly volumes and durations
(seconds for "Call to ..." and "Median ...", minutes for "Average ..."). Nothing here is copied
from a data file: it is a compact, plausible model of the city.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------------------------

BOROUGHS = ("MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND")
# Share of 311 requests by borough (city-wide 2019-2022, rounded).
BOROUGH_SHARE = {
    "MANHATTAN": 0.20,
    "BRONX": 0.21,
    "BROOKLYN": 0.30,
    "QUEENS": 0.24,
    "STATEN ISLAND": 0.05,
}
# Digit that starts a BBL (tax lot id) and the `:@computed_region_yeji_bk3q` borough code.
BBL_BOROUGH_DIGIT = {"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}
REGION_BOROUGH_CODE = {"MANHATTAN": 4, "BRONX": 5, "BROOKLYN": 2, "QUEENS": 3, "STATEN ISLAND": 1}

# (zip, latitude, longitude, community district, city as 311 writes it)
ZIPS: dict[str, tuple[tuple[str, float, float, int, str], ...]] = {
    "MANHATTAN": (
        ("10001", 40.7506, -73.9972, 4, "NEW YORK"), ("10002", 40.7157, -73.9863, 3, "NEW YORK"),
        ("10003", 40.7317, -73.9891, 3, "NEW YORK"), ("10004", 40.7034, -74.0128, 1, "NEW YORK"),
        ("10009", 40.7264, -73.9787, 3, "NEW YORK"), ("10010", 40.7390, -73.9826, 6, "NEW YORK"),
        ("10011", 40.7418, -74.0002, 4, "NEW YORK"), ("10012", 40.7256, -73.9983, 2, "NEW YORK"),
        ("10013", 40.7200, -74.0049, 1, "NEW YORK"), ("10014", 40.7340, -74.0054, 2, "NEW YORK"),
        ("10016", 40.7452, -73.9783, 6, "NEW YORK"), ("10017", 40.7522, -73.9725, 6, "NEW YORK"),
        ("10018", 40.7553, -73.9932, 5, "NEW YORK"), ("10019", 40.7654, -73.9855, 4, "NEW YORK"),
        ("10021", 40.7694, -73.9587, 8, "NEW YORK"), ("10022", 40.7585, -73.9677, 6, "NEW YORK"),
        ("10023", 40.7757, -73.9826, 7, "NEW YORK"), ("10024", 40.7866, -73.9746, 7, "NEW YORK"),
        ("10025", 40.7985, -73.9668, 7, "NEW YORK"), ("10026", 40.8025, -73.9529, 10, "NEW YORK"),
        ("10027", 40.8116, -73.9534, 9, "NEW YORK"), ("10028", 40.7764, -73.9531, 8, "NEW YORK"),
        ("10029", 40.7918, -73.9440, 11, "NEW YORK"), ("10030", 40.8183, -73.9429, 10, "NEW YORK"),
        ("10031", 40.8253, -73.9499, 9, "NEW YORK"), ("10032", 40.8388, -73.9425, 12, "NEW YORK"),
        ("10033", 40.8505, -73.9340, 12, "NEW YORK"), ("10034", 40.8676, -73.9214, 12, "NEW YORK"),
        ("10035", 40.7954, -73.9300, 11, "NEW YORK"), ("10036", 40.7602, -73.9910, 4, "NEW YORK"),
        ("10038", 40.7091, -74.0022, 1, "NEW YORK"), ("10039", 40.8268, -73.9380, 10, "NEW YORK"),
        ("10040", 40.8582, -73.9301, 12, "NEW YORK"), ("10065", 40.7651, -73.9639, 8, "NEW YORK"),
        ("10075", 40.7733, -73.9563, 8, "NEW YORK"), ("10128", 40.7813, -73.9500, 8, "NEW YORK"),
    ),
    "BRONX": (
        ("10451", 40.8205, -73.9238, 4, "BRONX"), ("10452", 40.8377, -73.9232, 4, "BRONX"),
        ("10453", 40.8529, -73.9126, 5, "BRONX"), ("10454", 40.8085, -73.9180, 1, "BRONX"),
        ("10455", 40.8146, -73.9086, 1, "BRONX"), ("10456", 40.8301, -73.9082, 3, "BRONX"),
        ("10457", 40.8471, -73.8985, 6, "BRONX"), ("10458", 40.8625, -73.8882, 7, "BRONX"),
        ("10459", 40.8247, -73.8941, 2, "BRONX"), ("10460", 40.8414, -73.8797, 6, "BRONX"),
        ("10461", 40.8467, -73.8405, 11, "BRONX"), ("10462", 40.8428, -73.8602, 11, "BRONX"),
        ("10463", 40.8808, -73.9066, 8, "BRONX"), ("10465", 40.8233, -73.8220, 10, "BRONX"),
        ("10466", 40.8906, -73.8474, 12, "BRONX"), ("10467", 40.8727, -73.8710, 7, "BRONX"),
        ("10468", 40.8680, -73.9000, 7, "BRONX"), ("10469", 40.8687, -73.8485, 12, "BRONX"),
        ("10472", 40.8294, -73.8690, 9, "BRONX"), ("10473", 40.8186, -73.8583, 9, "BRONX"),
        ("10474", 40.8101, -73.8847, 2, "BRONX"), ("10475", 40.8747, -73.8281, 10, "BRONX"),
    ),
    "BROOKLYN": (
        ("11201", 40.6937, -73.9898, 2, "BROOKLYN"), ("11203", 40.6494, -73.9344, 17, "BROOKLYN"),
        ("11204", 40.6189, -73.9843, 11, "BROOKLYN"), ("11205", 40.6945, -73.9666, 2, "BROOKLYN"),
        ("11206", 40.7019, -73.9424, 1, "BROOKLYN"), ("11207", 40.6705, -73.8942, 5, "BROOKLYN"),
        ("11208", 40.6684, -73.8710, 5, "BROOKLYN"), ("11209", 40.6219, -74.0302, 10, "BROOKLYN"),
        ("11210", 40.6282, -73.9466, 14, "BROOKLYN"), ("11211", 40.7123, -73.9531, 1, "BROOKLYN"),
        ("11212", 40.6628, -73.9131, 16, "BROOKLYN"), ("11213", 40.6710, -73.9363, 8, "BROOKLYN"),
        ("11214", 40.5990, -73.9960, 11, "BROOKLYN"), ("11215", 40.6626, -73.9860, 6, "BROOKLYN"),
        ("11216", 40.6810, -73.9496, 3, "BROOKLYN"), ("11217", 40.6822, -73.9792, 2, "BROOKLYN"),
        ("11218", 40.6433, -73.9765, 12, "BROOKLYN"), ("11219", 40.6328, -73.9969, 12, "BROOKLYN"),
        ("11220", 40.6412, -74.0163, 7, "BROOKLYN"), ("11221", 40.6914, -73.9276, 3, "BROOKLYN"),
        ("11222", 40.7272, -73.9478, 1, "BROOKLYN"), ("11223", 40.5971, -73.9736, 15, "BROOKLYN"),
        ("11224", 40.5771, -73.9888, 13, "BROOKLYN"), ("11225", 40.6631, -73.9543, 9, "BROOKLYN"),
        ("11226", 40.6466, -73.9566, 14, "BROOKLYN"), ("11228", 40.6168, -74.0136, 10, "BROOKLYN"),
        ("11229", 40.6011, -73.9448, 15, "BROOKLYN"), ("11230", 40.6222, -73.9653, 14, "BROOKLYN"),
        ("11231", 40.6793, -74.0007, 6, "BROOKLYN"), ("11232", 40.6561, -74.0052, 7, "BROOKLYN"),
        ("11233", 40.6783, -73.9199, 16, "BROOKLYN"), ("11234", 40.6205, -73.9237, 18, "BROOKLYN"),
        ("11235", 40.5839, -73.9496, 15, "BROOKLYN"), ("11236", 40.6392, -73.9014, 18, "BROOKLYN"),
        ("11237", 40.7043, -73.9213, 4, "BROOKLYN"), ("11238", 40.6796, -73.9638, 8, "BROOKLYN"),
        ("11239", 40.6475, -73.8794, 5, "BROOKLYN"),
    ),
    "QUEENS": (
        ("11101", 40.7469, -73.9396, 2, "LONG ISLAND CITY"), ("11102", 40.7706, -73.9264, 1, "ASTORIA"),
        ("11103", 40.7628, -73.9137, 1, "ASTORIA"), ("11104", 40.7446, -73.9200, 2, "SUNNYSIDE"),
        ("11105", 40.7787, -73.9065, 1, "ASTORIA"), ("11106", 40.7624, -73.9316, 1, "ASTORIA"),
        ("11354", 40.7686, -73.8272, 7, "FLUSHING"), ("11355", 40.7511, -73.8215, 7, "FLUSHING"),
        ("11356", 40.7847, -73.8412, 7, "COLLEGE POINT"), ("11357", 40.7855, -73.8110, 7, "WHITESTONE"),
        ("11358", 40.7604, -73.7968, 11, "FLUSHING"), ("11360", 40.7810, -73.7815, 11, "BAYSIDE"),
        ("11361", 40.7640, -73.7729, 11, "BAYSIDE"), ("11364", 40.7453, -73.7608, 11, "OAKLAND GARDENS"),
        ("11365", 40.7396, -73.7946, 8, "FRESH MEADOWS"), ("11366", 40.7279, -73.7947, 8, "FRESH MEADOWS"),
        ("11367", 40.7302, -73.8272, 8, "FLUSHING"), ("11368", 40.7498, -73.8625, 4, "CORONA"),
        ("11369", 40.7634, -73.8728, 3, "EAST ELMHURST"), ("11370", 40.7654, -73.8924, 3, "EAST ELMHURST"),
        ("11372", 40.7519, -73.8836, 3, "JACKSON HEIGHTS"), ("11373", 40.7389, -73.8787, 4, "ELMHURST"),
        ("11374", 40.7266, -73.8615, 6, "REGO PARK"), ("11375", 40.7209, -73.8465, 6, "FOREST HILLS"),
        ("11377", 40.7447, -73.9052, 2, "WOODSIDE"), ("11378", 40.7244, -73.9098, 5, "MASPETH"),
        ("11379", 40.7166, -73.8797, 5, "MIDDLE VILLAGE"), ("11385", 40.7004, -73.8895, 5, "RIDGEWOOD"),
        ("11411", 40.6944, -73.7361, 13, "CAMBRIA HEIGHTS"), ("11412", 40.6982, -73.7587, 12, "SAINT ALBANS"),
        ("11413", 40.6715, -73.7525, 13, "SPRINGFIELD GARDENS"), ("11414", 40.6584, -73.8447, 10, "HOWARD BEACH"),
        ("11415", 40.7080, -73.8285, 9, "KEW GARDENS"), ("11416", 40.6843, -73.8496, 9, "OZONE PARK"),
        ("11417", 40.6766, -73.8444, 10, "OZONE PARK"), ("11418", 40.7003, -73.8360, 9, "RICHMOND HILL"),
        ("11419", 40.6880, -73.8230, 9, "SOUTH RICHMOND HILL"), ("11420", 40.6737, -73.8177, 10, "SOUTH OZONE PARK"),
        ("11421", 40.6939, -73.8586, 9, "WOODHAVEN"), ("11423", 40.7156, -73.7686, 12, "HOLLIS"),
        ("11426", 40.7364, -73.7224, 13, "BELLEROSE"), ("11427", 40.7305, -73.7454, 13, "QUEENS VILLAGE"),
        ("11428", 40.7210, -73.7426, 13, "QUEENS VILLAGE"), ("11429", 40.7098, -73.7386, 13, "QUEENS VILLAGE"),
        ("11432", 40.7155, -73.7931, 8, "JAMAICA"), ("11433", 40.6981, -73.7869, 12, "JAMAICA"),
        ("11434", 40.6771, -73.7763, 12, "JAMAICA"), ("11435", 40.7010, -73.8094, 12, "JAMAICA"),
        ("11436", 40.6758, -73.7966, 12, "JAMAICA"), ("11691", 40.6013, -73.7616, 14, "FAR ROCKAWAY"),
        ("11692", 40.5941, -73.7920, 14, "ARVERNE"), ("11694", 40.5788, -73.8435, 14, "ROCKAWAY PARK"),
    ),
    "STATEN ISLAND": (
        ("10301", 40.6316, -74.0927, 1, "STATEN ISLAND"), ("10302", 40.6305, -74.1377, 1, "STATEN ISLAND"),
        ("10303", 40.6301, -74.1612, 1, "STATEN ISLAND"), ("10304", 40.6100, -74.0869, 1, "STATEN ISLAND"),
        ("10305", 40.5967, -74.0747, 2, "STATEN ISLAND"), ("10306", 40.5731, -74.1248, 3, "STATEN ISLAND"),
        ("10307", 40.5097, -74.2412, 3, "STATEN ISLAND"), ("10308", 40.5522, -74.1479, 3, "STATEN ISLAND"),
        ("10309", 40.5305, -74.2190, 3, "STATEN ISLAND"), ("10310", 40.6325, -74.1166, 1, "STATEN ISLAND"),
        ("10312", 40.5456, -74.1793, 3, "STATEN ISLAND"), ("10314", 40.6036, -74.1489, 2, "STATEN ISLAND"),
    ),
}  # fmt: skip

STREETS: dict[str, tuple[str, ...]] = {
    "MANHATTAN": (
        "BROADWAY", "AMSTERDAM AVENUE", "ST NICHOLAS AVENUE", "LEXINGTON AVENUE", "WEST  178 STREET",
        "EAST   14 STREET", "AVENUE A", "WEST  125 STREET", "RIVERSIDE DRIVE", "2 AVENUE",
        "EAST  116 STREET", "DYCKMAN STREET", "WEST   42 STREET", "FREDERICK DOUGLASS BOULEVARD",
    ),
    "BRONX": (
        "GRAND CONCOURSE", "WASHINGTON AVENUE", "WALTON AVENUE", "SEDGWICK AVENUE", "CRESTON AVENUE",
        "BROOK AVENUE", "EAST  171 STREET", "WHITE PLAINS ROAD", "PELHAM PARKWAY SOUTH",
        "EAST TREMONT AVENUE", "JEROME AVENUE", "SOUNDVIEW AVENUE",
    ),
    "BROOKLYN": (
        "FLATBUSH AVENUE", "EASTERN PARKWAY", "OCEAN AVENUE", "UNION STREET", "PARK PLACE",
        "NOSTRAND AVENUE", "BEDFORD AVENUE", "ATLANTIC AVENUE", "KINGS HIGHWAY", "4 AVENUE",
        "OCEAN PARKWAY", "MYRTLE AVENUE", "UTICA AVENUE", "BAY RIDGE PARKWAY",
    ),
    "QUEENS": (
        "QUEENS BOULEVARD", "WOODHAVEN BOULEVARD", "NORTHERN BOULEVARD", "ROOSEVELT AVENUE",
        "JAMAICA AVENUE", "HILLSIDE AVENUE", "UNION TURNPIKE", "KISSENA BOULEVARD", "37 AVENUE",
        "LIBERTY AVENUE", "MERRICK BOULEVARD", "STEINWAY STREET", "101 AVENUE", "FRANCIS LEWIS BOULEVARD",
    ),
    "STATEN ISLAND": (
        "HYLAN BOULEVARD", "VICTORY BOULEVARD", "RICHMOND AVENUE", "FOREST AVENUE", "BAY STREET",
        "AMBOY ROAD", "ARTHUR KILL ROAD", "CASTLETON AVENUE",
    ),
}  # fmt: skip

# Bounds of a valid NYC location (the silver rule) and the linear map from latitude/longitude to
# New York Long Island State Plane feet (EPSG:2263), good to a few hundred feet inside the city.
LAT_MIN, LAT_MAX = 40.477399, 40.917577
LON_MIN, LON_MAX = -74.259090, -73.700009
STATE_PLANE_X = (21_522_141.0, -329.3, 277_358.1)  # x = a + b*lat + c*lon
STATE_PLANE_Y = (-14_610_813.2, 364_262.1, 275.0)

# --------------------------------------------------------------------------------------------
# Time profiles (normalised to mean 1 when used)
# --------------------------------------------------------------------------------------------

SEASON_PROFILES: dict[str, tuple[float, ...]] = {  # January .. December
    "flat": (1,) * 12,
    "heat": (2.3, 1.8, 1.3, 0.75, 0.3, 0.12, 0.1, 0.1, 0.18, 0.8, 1.7, 2.3),
    "noise": (0.65, 0.65, 0.8, 0.95, 1.15, 1.35, 1.45, 1.35, 1.15, 1.0, 0.8, 0.7),
    "summer": (0.6, 0.6, 0.8, 0.95, 1.2, 1.4, 1.45, 1.35, 1.15, 0.95, 0.75, 0.6),
    "pothole": (1.4, 1.9, 1.7, 1.3, 1.0, 0.8, 0.75, 0.7, 0.7, 0.8, 0.9, 1.1),
    "winter": (1.3, 1.2, 1.0, 0.9, 0.85, 0.85, 0.85, 0.85, 0.9, 1.0, 1.15, 1.3),
    "snow": (3.5, 3.5, 1.5, 0.05, 0, 0, 0, 0, 0, 0, 0.4, 2.0),
    "fireworks": (0.2, 0.1, 0.1, 0.2, 0.6, 3.5, 6.0, 0.6, 0.3, 0.2, 0.2, 0.8),
}
WEEK_PROFILES: dict[str, tuple[float, ...]] = {  # Monday .. Sunday
    "weekday": (1.28, 1.18, 1.12, 1.1, 1.0, 0.7, 0.6),  # Monday brings the weekend's backlog
    "nightlife": (0.8, 0.75, 0.8, 0.9, 1.15, 1.45, 1.15),
    "flat": (1.07, 1.04, 1.02, 1.0, 0.99, 0.96, 0.92),
}
# Multiplier on a public holiday (US + New York), by week profile: offices close, parties don't.
HOLIDAY_FACTOR = {"weekday": 0.55, "nightlife": 1.2, "flat": 0.8}
HOUR_PROFILES: dict[str, tuple[float, ...]] = {  # 00 .. 23 h
    "night": (9, 7, 5, 3, 1.5, 1, 1, 1, 1.2, 1.5, 1.8, 2, 2.2, 2.3, 2.5, 2.7, 3, 3.5, 4,
              4.5, 5.5, 7, 9, 10),
    "day": (0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.8, 3.5, 6, 7.5, 8, 8, 7.5, 7.5, 7.5, 7, 6,
            5, 4, 3.3, 2.7, 2, 1.5, 1),
    "allday": (2.5, 1.8, 1.3, 1, 1, 1.4, 2.5, 4, 5.5, 6.5, 7, 7, 6.8, 6.7, 6.5, 6.3, 6.1,
               5.8, 5.4, 5, 4.5, 4, 3.5, 3),
}  # fmt: skip

AGENCY_NAMES = {
    "NYPD": "New York City Police Department",
    "HPD": "Department of Housing Preservation and Development",
    "DSNY": "Department of Sanitation",
    "DOT": "Department of Transportation",
    "DEP": "Department of Environmental Protection",
    "DOB": "Department of Buildings",
    "DPR": "Department of Parks and Recreation",
    "DOHMH": "Department of Health and Mental Hygiene",
    "DHS": "Department of Homeless Services",
    "TLC": "Taxi and Limousine Commission",
    "DCWP": "Department of Consumer and Worker Protection",
}

_NYPD_DONE = (
    "The Police Department responded to the complaint and took action to fix the condition.",
    "The Police Department responded to the complaint and with the information available observed no evidence of the violation at that time.",
    "The Police Department responded and upon arrival those responsible for the condition were gone.",
    "The Police Department issued a summons in response to the complaint.",
    "The Police Department responded to the complaint and determined that police action was not necessary.",
)
_NYPD_OPEN = (
    "Your complaint has been received by the Police Department and additional information will be available later.",
)
_HPD_DONE = (
    "The Department of Housing Preservation and Development inspected the following conditions. No violations were issued. The complaint has been closed.",
    "The Department of Housing Preservation and Development inspected the following conditions. Violations were issued. Information about specific violations is available at www.nyc.gov/hpd.",
    "The Department of Housing Preservation and Development was not able to gain access to inspect the conditions. The complaint has been closed.",
    "The Department of Housing Preservation and Development contacted a tenant in the building and verified that the following conditions were corrected. The complaint has been closed.",
)
_HPD_OPEN = (
    "The following complaint conditions are still open. HPD may attempt to contact you to verify the correction of the condition or may conduct an inspection.",
)
_DSNY_DONE = (
    "The Department of Sanitation investigated this complaint and found no condition at the location.",
    "The Department of Sanitation picked up the items.",
    "The Department of Sanitation cleaned the location.",
)
_DSNY_OPEN = ("The Department of Sanitation has scheduled this request.",)
_DOT_DONE = (
    "The Department of Transportation inspected this complaint and repaired the problem.",
    "The Department of Transportation inspected this complaint and found the condition to be corrected.",
    "The Department of Transportation inspected the condition you reported and determined that the issue is not the Department's responsibility.",
)
_DOT_OPEN = (
    "The Department of Transportation referred this complaint to the appropriate Maintenance Unit for repair.",
)
_DEP_DONE = (
    "The Department of Environmental Protection determined that this complaint is a duplicate of a previously filed complaint. The original complaint is being addressed.",
    "The Department of Environmental Protection investigated this complaint and shut the running hydrant.",
    "The Department of Environmental Protection did not observe a violation of the New York City Air/Noise Code at the time of inspection and could not issue a notice of violation.",
    "The Department of Environmental Protection investigated this complaint and found no problem.",
)
_DEP_OPEN = (
    "The Department of Environmental Protection has inspected your complaint and will take the appropriate action.",
)
_DOB_DONE = (
    "The Department of Buildings reviewed this complaint and determined that no further action is necessary.",
    "The Department of Buildings investigated this complaint and issued a violation.",
    "The Department of Buildings attempted to investigate this complaint but could not gain access.",
)
_DOB_OPEN = ("The Department of Buildings is reviewing this complaint.",)
_DPR_DONE = (
    "The Department of Parks and Recreation has completed the requested work order and corrected the problem.",
    "The Department of Parks and Recreation visited the location and inspected the condition, but did not find a problem.",
)
_DPR_OPEN = (
    "The Department of Parks and Recreation has inspected this condition and will schedule work.",
)
_DOHMH_DONE = (
    "The Department of Health and Mental Hygiene inspected the location and did not find signs of rats.",
    "The Department of Health and Mental Hygiene conducted an inspection and issued a Notice of Violation.",
)
_DOHMH_OPEN = ("The Department of Health and Mental Hygiene will review your complaint.",)
_DHS_DONE = (
    "The mobile outreach response team offered services to the individual, but the individual declined.",
    "The mobile outreach response team went to the location but could not find the individual.",
)
_OTHER_DONE = ("The agency reviewed your complaint and closed it.",)
_OTHER_OPEN = ("Your complaint has been forwarded to the agency for review.",)

RESOLUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # agency -> (closed, open)
    "NYPD": (_NYPD_DONE, _NYPD_OPEN),
    "HPD": (_HPD_DONE, _HPD_OPEN),
    "DSNY": (_DSNY_DONE, _DSNY_OPEN),
    "DOT": (_DOT_DONE, _DOT_OPEN),
    "DEP": (_DEP_DONE, _DEP_OPEN),
    "DOB": (_DOB_DONE, _DOB_OPEN),
    "DPR": (_DPR_DONE, _DPR_OPEN),
    "DOHMH": (_DOHMH_DONE, _DOHMH_OPEN),
    "DHS": (_DHS_DONE, _OTHER_OPEN),
    "TLC": (_OTHER_DONE, _OTHER_OPEN),
    "DCWP": (_OTHER_DONE, _OTHER_OPEN),
}


@dataclass(frozen=True)
class ComplaintType:
    """One 311 complaint type as the sample generator models it."""

    agency: str
    complaint_type: str
    share: float  # share of all requests on an average day, before seasonality
    descriptors: tuple[str, ...]
    location_types: tuple[str, ...]
    season: str = "flat"
    week: str = "weekday"
    hours: str = "day"
    resolution_hours: float = 48.0  # median time to close
    resolution_sigma: float = 1.0  # log-normal spread of that time
    open_share: float = 0.01  # never closed (still open when the snapshot is taken)
    due_days: int | None = None
    vehicle: bool = False
    covid: str = "office"  # "office": dips in the lockdown; "home": rises; "street": small dip


COMPLAINT_TYPES: tuple[ComplaintType, ...] = (
    ComplaintType("NYPD", "Noise - Residential", 11.0,
                  ("Loud Music/Party",) * 7 + ("Banging/Pounding",) * 2 + ("Loud Talking", "Loud Television"),
                  ("Residential Building/House",), "noise", "nightlife", "night", 2.5, 0.9, covid="home"),
    ComplaintType("NYPD", "Illegal Parking", 8.5,
                  ("Blocked Hydrant", "Blocked Hydrant", "Posted Parking Sign Violation",
                   "Double Parked Blocking Traffic", "Commercial Overnight Parking", "Blocked Sidewalk",
                   "License Plate Obscured", "Parking Permit Improper Use", "Blocked Bike Lane"),
                  ("Street/Sidewalk",), "flat", "flat", "allday", 3.0, 1.0, vehicle=True, covid="street"),
    ComplaintType("HPD", "HEAT/HOT WATER", 7.5, ("ENTIRE BUILDING", "ENTIRE BUILDING", "APARTMENT ONLY"),
                  ("RESIDENTIAL BUILDING",), "heat", "flat", "allday", 60.0, 0.9, 0.01, covid="home"),
    ComplaintType("NYPD", "Blocked Driveway", 4.5, ("No Access", "No Access", "Partial Access"),
                  ("Street/Sidewalk",), "flat", "flat", "allday", 3.0, 1.0, vehicle=True, covid="street"),
    ComplaintType("DSNY", "Request Large Bulky Item Collection", 4.5,
                  ("Request Large Bulky Item Collection",), ("Sidewalk",), "summer", "weekday", "day",
                  70.0, 0.5, 0.01, due_days=7),
    ComplaintType("NYPD", "Noise - Street/Sidewalk", 4.2, ("Loud Music/Party", "Loud Music/Party", "Loud Talking"),
                  ("Street/Sidewalk",), "noise", "nightlife", "night", 2.0, 0.9, covid="home"),
    ComplaintType("DOT", "Street Condition", 3.5,
                  ("Pothole", "Pothole", "Pothole", "Cave-in", "Rough, Pitted or Cracked Roads",
                   "Defective Hardware", "Failed Street Repair"),
                  ("Street",), "pothole", "weekday", "day", 110.0, 1.1, 0.03, due_days=30),
    ComplaintType("DEP", "Water System", 2.5,
                  ("Hydrant Running (WC3)", "Hydrant Running Full (WA4)", "No Water (WNW)",
                   "Leak (Use Comments) (WA2)", "Dirty Water (WE)"),
                  ("Street",), "summer", "flat", "allday", 20.0, 1.0, 0.01, due_days=10),
    ComplaintType("HPD", "UNSANITARY CONDITION", 2.6, ("PESTS", "MOLD", "GARBAGE/RECYCLING STORAGE", "SEWAGE"),
                  ("RESIDENTIAL BUILDING",), "flat", "weekday", "day", 400.0, 0.9, 0.03, covid="home"),
    ComplaintType("HPD", "PAINT/PLASTER", 2.0, ("WALL", "CEILING"), ("RESIDENTIAL BUILDING",),
                  "winter", "weekday", "day", 480.0, 0.8, 0.03),
    ComplaintType("HPD", "PLUMBING", 2.0,
                  ("WATER SUPPLY", "TOILET", "BASIN/SINK", "BATHTUB/SHOWER", "LEAKY FAUCET"),
                  ("RESIDENTIAL BUILDING",), "winter", "weekday", "day", 400.0, 0.9, 0.03),
    ComplaintType("NYPD", "Noise - Commercial", 2.0, ("Loud Music/Party", "Loud Music/Party", "Banging/Pounding", "Loud Talking"),
                  ("Club/Bar/Restaurant", "Store/Commercial"), "noise", "nightlife", "night", 2.0, 0.9, covid="street"),
    ComplaintType("NYPD", "Noise - Vehicle", 1.8, ("Car/Truck Music", "Car/Truck Music", "Engine Idling", "Car/Truck Horn"),
                  ("Street/Sidewalk",), "noise", "nightlife", "night", 2.0, 0.9, covid="home"),
    ComplaintType("DEP", "Noise", 1.8,
                  ("Noise: Construction Before/After Hours (NM1)", "Noise, Barking Dog (NR5)",
                   "Noise: Alarms (NR3)", "Noise: air condition/ventilation equipment (NV1)"),
                  ("Residential Building/House", "Street/Sidewalk"), "summer", "weekday", "allday", 120.0, 1.2, 0.02),
    ComplaintType("DOT", "Street Light Condition", 2.0, ("Street Light Out", "Street Light Out", "Street Light Cycling", "Lamppost Damaged"),
                  ("Street",), "winter", "weekday", "allday", 200.0, 1.1, 0.03, due_days=10),
    ComplaintType("DSNY", "Dirty Condition", 1.5, ("Trash", "Litter", "Dumping"), ("Sidewalk", "Street"),
                  "summer", "weekday", "day", 120.0, 1.0, 0.02),
    ComplaintType("DOB", "General Construction/Plumbing", 1.0,
                  ("Working Contrary To Stop Work Order", "Failure To Maintain", "Contrary To LL 58/87(Handicap Access)"),
                  ("Residential Building/House",), "flat", "weekday", "day", 700.0, 1.0, 0.05),
    ComplaintType("DOB", "Building/Use", 0.9, ("Illegal Conversion Of Residential Bldg/Space", "Illegal Conversion Of Commercial Bldg/Space"),
                  ("Residential Building/House",), "flat", "weekday", "day", 900.0, 1.0, 0.06),
    ComplaintType("DPR", "Damaged Tree", 1.2,
                  ("Branch Cracked and Will Fall", "Entire Tree Has Fallen Down", "Tree Leaning/Uprooted", "Branch or Limb Has Fallen Down"),
                  ("Street",), "summer", "flat", "day", 300.0, 1.3, 0.03),
    ComplaintType("DPR", "Overgrown Tree/Branches", 0.7, ("Hitting Building", "Blocking Street", "Blocking Sign"),
                  ("Street",), "summer", "weekday", "day", 800.0, 1.0, 0.05),
    ComplaintType("DOHMH", "Rodent", 1.2, ("Rat Sighting", "Rat Sighting", "Signs of Rodents", "Mouse Sighting"),
                  ("3+ Family Apt. Building", "1-2 Family Dwelling", "Commercial Building"),
                  "summer", "weekday", "day", 300.0, 1.0, 0.03),
    ComplaintType("DEP", "Sewer", 1.0, ("Catch Basin Clogged/Flooding (Use Comments) (SC)", "Sewer Backup (Use Comments) (SA)"),
                  ("Street",), "summer", "flat", "allday", 40.0, 1.2, 0.02),
    ComplaintType("DOT", "Traffic Signal Condition", 1.0, ("Controller", "Ped Flasher", "LED Lense"),
                  ("Street",), "flat", "flat", "allday", 4.0, 1.0, 0.01),
    ComplaintType("NYPD", "Abandoned Vehicle", 1.2, ("With License Plate", "No License Plate"),
                  ("Street/Sidewalk",), "flat", "weekday", "day", 4.0, 1.0, vehicle=True, covid="street"),
    ComplaintType("NYPD", "Non-Emergency Police Matter", 1.0, ("Other (complaint details)", "Trespassing", "Loitering"),
                  ("Street/Sidewalk", "Residential Building/House"), "noise", "flat", "allday", 3.0, 1.0, covid="street"),
    ComplaintType("NYPD", "Illegal Fireworks", 0.5, ("N/A",), ("Street/Sidewalk",),
                  "fireworks", "nightlife", "night", 1.5, 0.8, covid="home"),
    ComplaintType("DHS", "Homeless Person Assistance", 0.7, ("Non-Chronic", "Chronic"), ("Street/Sidewalk",),
                  "winter", "flat", "allday", 1.5, 1.0, covid="street"),
    ComplaintType("NYPD", "Encampment", 0.3, ("N/A",), ("Street/Sidewalk", "Park/Playground"),
                  "summer", "flat", "allday", 3.0, 1.0, covid="street"),
    ComplaintType("DSNY", "Missed Collection", 0.8, ("Trash", "Recycling - Paper", "Recycling - Metal/Glass/Plastic"),
                  ("Sidewalk",), "flat", "weekday", "day", 48.0, 0.8, 0.02),
    ComplaintType("DSNY", "Derelict Vehicles", 0.8, ("Derelict Vehicles",), ("Street",),
                  "flat", "weekday", "day", 400.0, 1.0, 0.04, vehicle=True),
    ComplaintType("HPD", "DOOR/WINDOW", 1.0, ("DOOR", "WINDOW GUARD BROKEN/MISSING", "WINDOW PANE"),
                  ("RESIDENTIAL BUILDING",), "winter", "weekday", "day", 450.0, 0.9, 0.03),
    ComplaintType("HPD", "WATER LEAK", 1.0, ("SLOW LEAK", "HEAVY FLOW"), ("RESIDENTIAL BUILDING",),
                  "flat", "weekday", "day", 400.0, 0.9, 0.03),
    ComplaintType("HPD", "ELECTRIC", 0.6, ("OUTLET/SWITCH", "LIGHTING", "WIRING"), ("RESIDENTIAL BUILDING",),
                  "winter", "weekday", "day", 450.0, 0.9, 0.03),
    ComplaintType("DOB", "Elevator", 0.3, ("Elevator - Defective/Not Working",), ("Residential Building/House",),
                  "flat", "weekday", "day", 300.0, 1.0, 0.04),
    ComplaintType("TLC", "For Hire Vehicle Complaint", 0.4, ("Driver Complaint - Passenger", "Driver Complaint - Non Passenger"),
                  ("Street",), "flat", "flat", "allday", 500.0, 1.0, 0.05, vehicle=True),
    ComplaintType("TLC", "Taxi Complaint", 0.3, ("Driver Complaint - Passenger", "Car Service Company Complaint"),
                  ("Street",), "flat", "flat", "allday", 500.0, 1.0, 0.05, vehicle=True),
    ComplaintType("DCWP", "Consumer Complaint", 0.4, ("Supermarket or Grocery Store", "Overcharge", "Non-Delivery Goods"),
                  ("Store/Commercial",), "flat", "weekday", "day", 600.0, 1.0, 0.05),
    ComplaintType("DSNY", "Snow or Ice", 0.3, ("Snow or Ice",), ("Street",), "snow", "flat", "allday", 30.0, 0.8, 0.02),
    ComplaintType("NYPD", "Traffic", 0.4, ("Congestion/Gridlock", "Truck Route Violation"), ("Street/Sidewalk",),
                  "flat", "weekday", "day", 2.0, 0.9, covid="street"),
    ComplaintType("NYPD", "Noise - Park", 0.3, ("Loud Music/Party",), ("Park/Playground",),
                  "noise", "nightlife", "night", 2.0, 0.9, covid="home"),
    ComplaintType("DOHMH", "Food Establishment", 0.3, ("Rodents/Insects/Garbage", "Food Spoiled", "Odor"),
                  ("Restaurant/Bar/Deli/Bakery",), "summer", "weekday", "day", 300.0, 1.0, 0.03),
    ComplaintType("DEP", "Air Quality", 0.3, ("Air: Odor/Fumes, Vehicle Idling (AD3)", "Air: Smoke, Chimney or vent (AS1)"),
                  ("Residential Building/House",), "winter", "weekday", "day", 150.0, 1.0, 0.02),
    ComplaintType("DOT", "Sidewalk Condition", 0.4, ("Defacement", "Broken Sidewalk"), ("Sidewalk",),
                  "pothole", "weekday", "day", 900.0, 1.0, 0.08, due_days=60),
    ComplaintType("DPR", "Maintenance or Facility", 0.4, ("Unsecured Facility", "Garbage or Litter", "Structure - Outdoors"),
                  ("Park",), "summer", "flat", "day", 100.0, 1.1, 0.03),
    ComplaintType("NYPD", "Drug Activity", 0.3, ("Use Outside", "Use Indoor", "Sale"), ("Street/Sidewalk",),
                  "flat", "flat", "allday", 3.0, 1.0, covid="street"),
    ComplaintType("NYPD", "Drinking", 0.2, ("In Public",), ("Street/Sidewalk",),
                  "noise", "nightlife", "night", 2.0, 0.9, covid="street"),
    ComplaintType("DSNY", "Graffiti", 0.2, ("Graffiti",), ("Comercial", "Residential Building/House"),
                  "flat", "weekday", "day", 400.0, 1.0, 0.05, due_days=30),
)  # fmt: skip

# Sustained changes in volume: (complaint type or "*" for all, first day, factor).
LEVEL_SHIFTS: tuple[tuple[str, str, float], ...] = (
    ("Illegal Parking", "2021-01-01", 1.35),  # more app-reported parking complaints
    ("Request Large Bulky Item Collection", "2020-09-01", 1.25),
    ("Encampment", "2021-06-01", 1.8),
    ("*", "2022-07-01", 1.06),
)
# One-off events: (complaint type, first day, last day, factor).
EVENTS: tuple[tuple[str, str, str, float], ...] = (
    ("Illegal Fireworks", "2020-06-01", "2020-07-10", 6.0),  # the summer-2020 fireworks wave
    ("Damaged Tree", "2020-08-04", "2020-08-10", 8.0),  # Tropical Storm Isaias
    ("Snow or Ice", "2021-02-01", "2021-02-10", 4.0),  # the February 2021 snowstorm
    ("Sewer", "2021-09-01", "2021-09-05", 5.0),  # remnants of Hurricane Ida
)
# Growth of the total volume per year (multiplicative, from 2019-01-01).
YEARLY_GROWTH = 0.04
# COVID: lockdown from 2020-03-16, lowest until 2020-05-31, back to normal by 2021-06-30.
COVID_START, COVID_TROUGH_END, COVID_RECOVERED = "2020-03-16", "2020-05-31", "2021-06-30"
COVID_FACTORS = {"office": 0.45, "street": 0.6, "home": 1.1}  # multiplier at the trough

CHANNELS = (("PHONE", 0.40), ("ONLINE", 0.24), ("MOBILE", 0.28), ("UNKNOWN", 0.08))
OPEN_STATUSES = (("In Progress", 0.45), ("Open", 0.35), ("Assigned", 0.12), ("Pending", 0.08))
VEHICLE_TYPES = (("Car", 0.6), ("SUV", 0.2), ("Van", 0.1), ("Truck", 0.05), ("Other", 0.05))
ADDRESS_TYPES = (
    ("ADDRESS", 0.90),
    ("INTERSECTION", 0.06),
    ("BLOCKFACE", 0.03),
    ("UNRECOGNIZED", 0.01),
)
HIGHWAYS = (
    ("Clearview Expwy", "Southbound", "Grand Central Pkwy (Exit 1 E-W)"),
    ("BQE/Gowanus Expwy", "Eastbound", "Atlantic Ave (Exit 27) - Tillary St (Exit 29)"),
    ("Cross Bronx Expwy", "Westbound", "Jerome Ave (Exit 2B) - Harlem River Dr (Exit 1B)"),
    ("Belt Pkwy", "Westbound", "Pennsylvania Ave (Exit 14) - Rockaway Pkwy (Exit 13)"),
)

# --------------------------------------------------------------------------------------------
# 911 End-to-End (t7p9-n9dy): week x agency x final incident type
# --------------------------------------------------------------------------------------------

# Fields every row has, with typical values per (agency, type), in this order:
# call_to_first_pickup, call_to_pd_calltaker_handoff, call_to_agency_dispatch,
# call_to_agency_arrival, call_to_first_arrival_multi_agency_incidents, median_pickup,
# median_calltaker_handoff, median_dispatch, median_travel,
# median_cumulative_first_arrival_multi_agency_incidents, average_travel, average_dispatch,
# average_calltaker_processing, average_pickup
NYC911_COMMON_FIELDS = (
    "call_to_first_pickup", "call_to_pd_calltaker_handoff", "call_to_agency_dispatch",
    "call_to_agency_arrival", "call_to_first_arrival_multi_agency_incidents", "median_pickup",
    "median_calltaker_handoff", "median_dispatch", "median_travel",
    "median_cumulative_first_arrival_multi_agency_incidents", "average_travel", "average_dispatch",
    "average_calltaker_processing", "average_pickup",
)  # fmt: skip
# EMS segment (EMS rows and FDNY medical emergencies).
NYC911_EMS_FIELDS = (
    "call_to_ems_pickup",
    "call_to_agency_job_creation",
    "median_ems_pickup",
    "median_ems_job_creation",
    "average_ems_processing",
    "average_ems_pickup",
)
# FDNY segment (fire rows), reported from 2018-03-19 on.
NYC911_FDNY_FIELDS = (
    "call_to_fdny_pickup",
    "call_to_fdny_job_creation",
    "median_fdny_pickup",
    "median_fdny_job_creation",
    "average_fd_pickup",
    "average_fd_processing",
)
NYC911_FDNY_FIELDS_FROM = "2018-03-19"


@dataclass(frozen=True)
class IncidentType:
    """One 911 End-to-End row type: its weekly volume and typical durations."""

    agency: str
    incident_type: str
    weekly_incidents: float
    common: tuple[float, ...]  # NYC911_COMMON_FIELDS
    ems: tuple[float, ...] | None = None  # NYC911_EMS_FIELDS
    fdny: tuple[float, ...] | None = None  # NYC911_FDNY_FIELDS
    rare: bool = False  # appears only in some weeks, with a handful of incidents


INCIDENT_TYPES: tuple[IncidentType, ...] = (
    IncidentType("EMS", "1. Life Threating Med Emergencies", 9973,
                 (3.67, 64.4, 154.2, 546.5, 477.6, 3, 70, 79, 344.8, 416.3, 6.53, 1.39, 1.01, 0.06),
                 ems=(70.0, 117.9, 11.5, 38, 0.73, 0.12)),
    IncidentType("EMS", "2. Non-Life Threatening Med Emergencies", 13908,
                 (3.66, 81.2, 198.8, 777.8, 673.2, 3, 83.5, 84.5, 483.5, 548, 9.63, 1.86, 1.29, 0.06),
                 ems=(89.1, 118.5, 11.5, 41, 0.43, 0.15)),
    IncidentType("FDNY", "1. Structural Fires", 271,
                 (3.58, 73.6, 96.2, 295.2, 290.5, 3, 59, 9, 193, 278.5, 3.30, 0.20, 1.07, 0.06),
                 fdny=(33.5, 86.8, 5, 47, 0.09, 0.89)),
    IncidentType("FDNY", "2. Non-Structural Fires", 179,
                 (3.62, 76.1, 101.6, 362.2, 352.1, 3, 56, 9, 238.5, 328, 4.30, 0.22, 1.18, 0.06),
                 fdny=(35.7, 90.3, 5, 44, 0.08, 0.91)),
    IncidentType("FDNY", "3. Medical Emergencies", 3402,
                 (3.66, 208.2, 233.2, 519.7, 434.7, 3, 115, 7, 262, 392, 4.71, 0.45, 3.42, 0.06),
                 ems=(72.2, 203.4, 5, 51, 1.81, 0.09)),
    IncidentType("FDNY", "4. Non-Medical Emergencies", 2881,
                 (3.68, 160.8, 203.5, 510.4, 469.6, 3, 74, 11.5, 273, 386, 5.15, 0.26, 2.60, 0.06),
                 fdny=(50.2, 106.5, 5, 46, 0.09, 0.93)),
    IncidentType("NYPD", "1. Critical", 1015,
                 (3.62, 115.5, 207.3, 400.2, 384.7, 3, 88, 57, 133, 316, 3.20, 1.52, 1.86, 0.06)),
    IncidentType("NYPD", "2. Serious", 2287,
                 (3.60, 116.5, 235.2, 529.6, 507.3, 3, 89, 68, 183.3, 387, 4.87, 1.97, 1.88, 0.06)),
    IncidentType("NYPD", "3. Non-Critical", 673,
                 (3.59, 165.4, 429.8, 1120.9, 1108.6, 3, 137, 110, 362, 703, 11.66, 4.38, 2.69, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Alarms", 2555,
                 (3.65, 123.6, 674.4, 2782.5, 2782.1, 3, 105, 251.5, 1099, 1705, 35.29, 9.18, 1.99, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Disorderly Person/Group/Noise", 1463,
                 (3.62, 167.1, 671.6, 2169.7, 2147.5, 3, 144.5, 199.5, 674.8, 1252.5, 24.62, 8.43, 2.72, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Dispute", 5379,
                 (3.58, 175.0, 769.8, 2667.1, 2651.1, 3, 148, 203.5, 848, 1497.5, 31.27, 9.89, 2.85, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Hazardous Materials/Suspicious Letters/Packages/Substances/Substances", 428,
                 (3.71, 127.0, 237.4, 2265.9, 1015.1, 3, 95.5, 57, 1185.8, 411.3, 33.62, 1.65, 2.05, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Other Crimes (In Progress)", 2852,
                 (3.63, 158.5, 400.2, 1008.6, 1003.9, 3, 131, 102.3, 318, 641.5, 10.14, 4.01, 2.57, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Past Crime", 3313,
                 (3.56, 208.4, 886.1, 3849.4, 3793.3, 3, 177, 260, 1648, 2390, 49.49, 11.32, 3.41, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Police Officer/Security Holding Suspect", 202,
                 (3.71, 99.4, 430.9, 1587.8, 1580.6, 3, 78, 122.5, 669, 1049.3, 18.95, 5.59, 1.59, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Possible Crimes", 8302,
                 (3.62, 149.2, 729.9, 2937.1, 2845.3, 3, 115, 225, 1072, 1625.5, 36.67, 9.64, 2.42, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Vehicle Accident", 3703,
                 (3.50, 170.3, 864.2, 3872.0, 3804.8, 3, 144, 300.5, 1889.8, 2630, 49.84, 11.57, 2.77, 0.06)),
    IncidentType("NYPD (Non-CIP)", "Investigate/Possible Crime", 3,
                 (4.33, 140.3, 609.5, 2602.5, 2602.5, 4, 124, 171, 1155, 1361, 19.25, 8.46, 2.21, 0.07), rare=True),
    IncidentType("NYPD (Non-CIP)", "Shot Spotter", 1,
                 (3.5, 83.5, 124, 478, 478, 3.5, 80, 40.5, 354, 478, 5.90, 0.68, 1.33, 0.06), rare=True),
)  # fmt: skip
