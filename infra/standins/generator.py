"""Deterministic generator of realistic catalog records for the stand-in sources.

Record ``i`` of a source at version ``v`` is a pure function of (source, i, v): nothing is
materialised up front, so a full-scale server (90,000 equipment records) starts instantly and two
runs always see the same data. Texts are built from a table of technical topics tied to the
institutes that own them, so a Korean problem description finds patents and equipment of the
right institute.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

SCALES: dict[str, dict[str, int]] = {
    # ~80k patents, ~10k papers (NTIS + the special-zone library), ~90k equipment
    "full": {"patents": 80_000, "ntis": 7_000, "library": 3_000, "zeus": 90_000},
    "medium": {"patents": 8_000, "ntis": 700, "library": 300, "zeus": 9_000},
    "small": {"patents": 150, "ntis": 60, "library": 40, "zeus": 160},
    "tiny": {"patents": 80, "ntis": 40, "library": 30, "zeus": 90},  # the test suite
}
BASE_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: every base record was modified before it
_SPAN = 5 * 365 * 86_400  # base modification stamps spread over five years
MALFORMED_EVERY = 97  # the odd broken record (missing title / impossible value)


@dataclass(frozen=True)
class Topic:
    owners: tuple[str, ...]
    objects: tuple[tuple[str, str], ...]
    problems: tuple[tuple[str, str], ...]
    methods: tuple[tuple[str, str], ...]
    ipc: tuple[str, ...]
    equipment: tuple[tuple[str, str, str, str], ...]  # class code, class name, name ko, name en


T = Topic
TOPICS: tuple[Topic, ...] = (
    T(("KITECH",), (("알루미늄 다이캐스팅 부품", "aluminum die-cast parts"), ("주조품", "castings")),
      (("기공 결함", "porosity defects"), ("수축 결함", "shrinkage defects")),
      (("진공 주조", "vacuum casting"), ("용탕 탈가스 처리", "melt degassing")),
      ("B22D 17/00", "B22D 27/15"), (("EQ00030002", "주조장비", "진공 다이캐스팅기", "vacuum die casting machine"),
                                      ("EQ00010003", "비파괴검사장비", "산업용 X선 CT", "industrial X-ray CT"))),
    T(("KITECH", "KIMS"), (("용접 이음부", "welded joints"), ("이종금속 접합부", "dissimilar metal joints")),
      (("용접 균열", "weld cracking"), ("잔류응력", "residual stress")),
      (("레이저 용접", "laser welding"), ("마찰교반접합", "friction stir welding")),
      ("B23K 26/00", "B23K 20/12"), (("EQ00030005", "용접장비", "파이버 레이저 용접기", "fiber laser welder"),
                                      ("EQ00040001", "기계적특성평가장비", "만능재료시험기", "universal testing machine"))),
    T(("KITECH", "KIMS"), (("금형 표면", "mold surfaces"), ("공구강", "tool steel")),
      (("마모", "wear"), ("부식", "corrosion")),
      (("PVD 코팅", "PVD coating"), ("질화 열처리", "nitriding heat treatment")),
      ("C23C 14/06", "C21D 1/06"), (("EQ00050002", "표면처리장비", "PVD 코팅 장비", "PVD coating system"),
                                     ("EQ00040003", "기계적특성평가장비", "마찰마모시험기", "tribometer"))),
    T(("KBSI",), (("고분자 소재", "polymer materials"), ("의약품 불순물", "drug impurities")),
      (("미량 성분 분석", "trace component analysis"), ("구조 규명", "structure elucidation")),
      (("고분해능 질량분석", "high-resolution mass spectrometry"), ("핵자기공명 분광", "NMR spectroscopy")),
      ("G01N 30/72", "G01N 24/08"), (("EQ00020004", "분리분석장비", "액체크로마토그래프 질량분석기", "LC-MS/MS"),
                                      ("EQ00020002", "분광분석장비", "800MHz 핵자기공명분광기", "800 MHz NMR spectrometer"))),
    T(("KBSI", "KIMS"), (("나노 입자", "nanoparticles"), ("박막 시편", "thin-film specimens")),
      (("미세구조 관찰", "microstructure imaging"), ("결정 결함 분석", "crystal defect analysis")),
      (("투과전자현미경 분석", "transmission electron microscopy"), ("X선 회절 분석", "X-ray diffraction")),
      ("H01J 37/26", "G01N 23/20"), (("EQ00010001", "전자현미경", "투과전자현미경", "transmission electron microscope"),
                                      ("EQ00010002", "전자현미경", "주사전자현미경", "scanning electron microscope"))),
    T(("KERI",), (("전기차 구동 모터", "EV traction motors"), ("배터리 팩", "battery packs")),
      (("발열", "overheating"), ("효율 저하", "efficiency loss")),
      (("전력변환 제어", "power conversion control"), ("열관리 설계", "thermal management")),
      ("H02K 9/19", "H01M 10/613"), (("EQ00060001", "전기전자시험장비", "모터 다이나모미터", "motor dynamometer"),
                                       ("EQ00060004", "전기전자시험장비", "배터리 충방전 시험기", "battery cycler"))),
    T(("KIER",), (("고체산화물 연료전지", "solid oxide fuel cells"), ("수전해 스택", "electrolysis stacks")),
      (("성능 열화", "performance degradation"), ("수소 생산 효율", "hydrogen production efficiency")),
      (("촉매 전극 설계", "catalyst electrode design"), ("고온 운전 제어", "high-temperature operation")),
      ("H01M 8/12", "C25B 1/04"), (("EQ00070002", "에너지평가장비", "연료전지 성능평가장치", "fuel cell test station"),
                                    ("EQ00070003", "에너지평가장비", "태양광 시뮬레이터", "solar simulator"))),
    T(("KRICT",), (("생분해성 고분자", "biodegradable polymers"), ("포장 필름", "packaging films")),
      (("기계적 강도 부족", "poor mechanical strength"), ("분해 속도 제어", "degradation control")),
      (("공중합 합성", "copolymer synthesis"), ("나노 복합화", "nanocomposite compounding")),
      ("C08G 63/08", "C08L 67/04"), (("EQ00020006", "열분석장비", "시차주사열량계", "differential scanning calorimeter"),
                                      ("EQ00020001", "분광분석장비", "FT-IR 분광기", "FT-IR spectrometer"))),
    T(("KRICT", "KIST"), (("이차전지 양극재", "battery cathode materials"), ("전해질", "electrolytes")),
      (("수명 저하", "short cycle life"), ("열 폭주", "thermal runaway")),
      (("표면 코팅", "surface coating"), ("고체 전해질 합성", "solid electrolyte synthesis")),
      ("H01M 4/525", "H01M 10/0562"), (("EQ00020005", "분리분석장비", "유도결합플라즈마 분광기", "ICP-OES"),)),
    T(("ETRI",), (("산업용 IoT 센서", "industrial IoT sensors"), ("스마트 공장 네트워크", "smart factory networks")),
      (("통신 지연", "communication latency"), ("데이터 유실", "data loss")),
      (("5G 저지연 통신", "low-latency 5G"), ("엣지 컴퓨팅", "edge computing")),
      ("H04W 4/70", "H04L 67/12"), (("EQ00060003", "전기전자시험장비", "네트워크 분석기", "network analyzer"),
                                      ("EQ00060002", "전기전자시험장비", "스펙트럼 분석기", "spectrum analyzer"))),
    T(("ETRI", "KIST"), (("제조 영상 데이터", "manufacturing images"), ("검사 공정", "inspection processes")),
      (("불량 검출", "defect detection"), ("오검출", "false detection")),
      (("딥러닝 비전 검사", "deep-learning visual inspection"), ("인공지능 학습", "AI model training")),
      ("G06T 7/00", "G06N 3/08"), (("EQ00080001", "계산장비", "GPU 서버", "GPU server"),)),
    T(("KIMM",), (("산업용 로봇", "industrial robots"), ("감속기", "reducers")),
      (("진동 소음", "vibration and noise"), ("위치 정밀도 저하", "positioning error")),
      (("진동 저감 제어", "vibration damping control"), ("정밀 가공", "precision machining")),
      ("B25J 9/16", "F16H 1/32"), (("EQ00040004", "기계적특성평가장비", "진동 시험기", "vibration shaker"),
                                    ("EQ00090001", "가공장비", "5축 머시닝센터", "5-axis machining center"))),
    T(("KIMM", "KFE"), (("반도체 공정 장비", "semiconductor process equipment"), ("플라즈마 챔버", "plasma chambers")),
      (("파티클 오염", "particle contamination"), ("식각 균일도", "etch uniformity")),
      (("플라즈마 진단", "plasma diagnostics"), ("초고진공 설계", "ultra-high vacuum design")),
      ("H01J 37/32", "H01L 21/3065"), (("EQ00090003", "진공장비", "플라즈마 식각 장비", "plasma etcher"),)),
    T(("KRISS",), (("정밀 계측기", "precision instruments"), ("압력 센서", "pressure sensors")),
      (("측정 불확도", "measurement uncertainty"), ("교정 오차", "calibration error")),
      (("표준 교정", "standard calibration"), ("나노 측정", "nanometrology")),
      ("G01L 27/00", "G01B 11/24"), (("EQ00100001", "측정표준장비", "3차원 좌표측정기", "coordinate measuring machine"),
                                      ("EQ00100002", "측정표준장비", "레이저 간섭계", "laser interferometer"))),
    T(("KFRI", "WIKIM"), (("김치", "kimchi"), ("발효 식품", "fermented foods")),
      (("과숙성", "over-fermentation"), ("유통기한 단축", "short shelf life")),
      (("유산균 스타터", "lactic acid bacteria starter"), ("저온 살균", "low-temperature pasteurization")),
      ("A23B 7/10", "A23L 19/20"), (("EQ00110001", "식품분석장비", "미생물 동정 장비", "microbial identification system"),)),
    T(("KFRI",), (("가공 식품", "processed foods"), ("식품 포장재", "food packaging")),
      (("이물 혼입", "foreign matter"), ("산패", "rancidity")),
      (("고압 처리", "high-pressure processing"), ("진공 포장", "vacuum packaging")),
      ("A23L 3/015", "B65D 81/20"), (("EQ00110002", "식품분석장비", "고압 처리 장치", "high-pressure processor"),)),
    T(("KRIBB",), (("바이오의약품", "biopharmaceuticals"), ("효소", "enzymes")),
      (("생산 수율", "production yield"), ("단백질 응집", "protein aggregation")),
      (("세포 배양 최적화", "cell culture optimisation"), ("균주 개량", "strain engineering")),
      ("C12N 9/00", "C12P 21/02"), (("EQ00120001", "생명과학장비", "바이오리액터", "bioreactor"),
                                     ("EQ00120002", "생명과학장비", "유세포 분석기", "flow cytometer"))),
    T(("KICT",), (("콘크리트 구조물", "concrete structures"), ("건축 외장재", "building cladding")),
      (("균열", "cracking"), ("화재 확산", "fire spread")),
      (("자기치유 콘크리트", "self-healing concrete"), ("내화 성능 평가", "fire resistance testing")),
      ("E04B 1/94", "C04B 28/04"), (("EQ00130001", "건설시험장비", "대형 내화 시험로", "large fire test furnace"),)),
    T(("KRRI",), (("철도 차량", "rolling stock"), ("대차 부품", "bogie components")),
      (("피로 파손", "fatigue failure"), ("소음", "noise")),
      (("상태 기반 정비", "condition-based maintenance"), ("경량 복합재", "lightweight composites")),
      ("B61F 5/00", "B61K 9/08"), (("EQ00040005", "기계적특성평가장비", "피로 시험기", "fatigue testing machine"),)),
    T(("KIGAM",), (("폐배터리", "spent batteries"), ("희유금속", "rare metals")),
      (("회수율 저조", "low recovery"), ("불순물 혼입", "impurities")),
      (("습식 제련", "hydrometallurgy"), ("선별 공정", "mineral separation")),
      ("C22B 7/00", "C22B 26/12"), (("EQ00020007", "분리분석장비", "X선 형광분석기", "XRF analyzer"),)),
    T(("KAERI",), (("용접 구조물", "welded structures"), ("의료기기", "medical devices")),
      (("내부 결함", "internal flaws"), ("멸균 불량", "sterilisation failure")),
      (("방사선 비파괴검사", "radiographic testing"), ("전자선 멸균", "electron-beam sterilisation")),
      ("G01N 23/04", "A61L 2/08"), (("EQ00010004", "비파괴검사장비", "방사선 투과검사 장비", "radiography system"),)),
    T(("KARI", "KASI"), (("드론", "drones"), ("위성 부품", "satellite parts")),
      (("비행 안정성", "flight stability"), ("열진공 환경 내구성", "thermal-vacuum endurance")),
      (("비행 제어", "flight control"), ("우주 환경 시험", "space environment testing")),
      ("B64C 39/02", "B64G 1/50"), (("EQ00140001", "항공우주시험장비", "열진공 챔버", "thermal vacuum chamber"),)),
    T(("KIT",), (("화장품 원료", "cosmetic ingredients"), ("화학 제품", "chemical products")),
      (("독성", "toxicity"), ("피부 자극", "skin irritation")),
      (("독성 시험", "toxicity testing"), ("대체 시험법", "alternative test methods")),
      ("G01N 33/50", "A61K 8/97"), (("EQ00120003", "생명과학장비", "세포 독성 분석기", "cytotoxicity analyzer"),)),
    T(("KIOM",), (("한약재", "herbal materials"), ("천연물 소재", "natural products")),
      (("품질 편차", "quality variation"), ("유효성분 함량", "active ingredient content")),
      (("표준화 추출", "standardised extraction"), ("지표성분 분석", "marker compound analysis")),
      ("A61K 36/00", "A23L 33/105"), (("EQ00020003", "분리분석장비", "고성능 액체크로마토그래프", "HPLC"),)),
    T(("RRA",), (("무선 기기", "wireless devices"), ("전자 제품", "electronic products")),
      (("전자파 간섭", "electromagnetic interference"), ("인증 부적합", "certification failure")),
      (("EMC 시험", "EMC testing"), ("차폐 설계", "shielding design")),
      ("H05K 9/00", "G01R 31/00"), (("EQ00060005", "전기전자시험장비", "전자파 무반사실", "anechoic chamber"),)),
    T(("KISA", "NSR"), (("웹 서비스", "web services"), ("산업 제어 시스템", "industrial control systems")),
      (("해킹 침해", "cyber intrusion"), ("개인정보 유출", "data breach")),
      (("취약점 진단", "vulnerability assessment"), ("암호 모듈", "cryptographic modules")),
      ("H04L 9/40", "G06F 21/57"), ()),
)

_OTHER_OWNERS = (
    ("서울대학교 산학협력단", "seoul"), ("한국과학기술원", "daejeon"), ("포항공과대학교 산학협력단", "gyeongbuk"),
    ("부산대학교 산학협력단", "busan"), ("한국산업기술시험원", "gyeongnam"), ("(주)한빛소재", "gyeonggi"),
    ("충남대학교 산학협력단", "daejeon"), ("전북대학교 산학협력단", "jeonbuk"), ("경북대학교 산학협력단", "daegu"),
    ("강원대학교 산학협력단", "gangwon"),
)
_INSTITUTE_NAMES = {
    "KITECH": "한국생산기술연구원", "KIMS": "한국재료연구원", "KBSI": "한국기초과학지원연구원",
    "KERI": "한국전기연구원", "KIER": "한국에너지기술연구원", "KRICT": "한국화학연구원",
    "KIST": "한국과학기술연구원", "ETRI": "한국전자통신연구원", "KIMM": "한국기계연구원",
    "KFE": "한국핵융합에너지연구원", "KRISS": "한국표준과학연구원", "KFRI": "한국식품연구원",
    "WIKIM": "세계김치연구소", "KRIBB": "한국생명공학연구원", "KICT": "한국건설기술연구원",
    "KRRI": "한국철도기술연구원", "KIGAM": "한국지질자원연구원", "KAERI": "한국원자력연구원",
    "KARI": "한국항공우주연구원", "KASI": "한국천문연구원", "KIT": "안전성평가연구소",
    "KIOM": "한국한의학연구원", "RRA": "국립전파연구원", "KISA": "한국인터넷진흥원", "NSR": "국가보안기술연구소",
}
_SITES = {  # where each institute's equipment stands (HQ plus a regional branch or two)
    "KITECH": ("충청남도 천안시 서북구 입장면 양대기로길 89", "인천광역시 연수구 갯벌로 156", "광주광역시 북구 첨단벤처로108번길 6",
               "울산광역시 중구 종가로 55", "경상북도 영천시 청통면 청통로 320"),
    "KBSI": ("대전광역시 유성구 과학로 169-148", "서울특별시 성북구 안암로 145", "부산광역시 강서구 과학산단1로60번길 30",
             "전북특별자치도 전주시 덕진구 건지로 20", "강원특별자치도 춘천시 강원대학길 1"),
    "KIMS": ("경상남도 창원시 성산구 창원대로 797",), "KERI": ("경상남도 창원시 성산구 불모산로10번길 12", "경기도 안산시 상록구 한양대학로 111"),
    "KIER": ("대전광역시 유성구 가정로 152", "제주특별자치도 제주시 구좌읍 해맞이해안로 200"),
    "KRICT": ("대전광역시 유성구 가정로 141", "울산광역시 중구 종가로 45"), "KIST": ("서울특별시 성북구 화랑로14길 5", "강원특별자치도 강릉시 과학단지로 679"),
    "ETRI": ("대전광역시 유성구 가정로 218",), "KIMM": ("대전광역시 유성구 가정북로 156", "대구광역시 달성군 유가읍 테크노순환로 330"),
    "KFE": ("대전광역시 유성구 과학로 169-148",), "KRISS": ("대전광역시 유성구 가정로 267",),
    "KFRI": ("전북특별자치도 완주군 이서면 농생명로 245",), "WIKIM": ("광주광역시 남구 김치로 86",),
    "KRIBB": ("대전광역시 유성구 과학로 125", "충청북도 청주시 청원구 오창읍 연구단지로 30"), "KICT": ("경기도 고양시 일산서구 고양대로 283",),
    "KRRI": ("경기도 의왕시 철도박물관로 176",), "KIGAM": ("대전광역시 유성구 과학로 124", "전라남도 목포시 해안로 100"),
    "KAERI": ("대전광역시 유성구 대덕대로989번길 111", "전북특별자치도 정읍시 첨단과학로 29"),
    "KARI": ("대전광역시 유성구 과학로 169-84", "전라남도 고흥군 봉래면 하반로 508"), "KASI": ("대전광역시 유성구 대덕대로 776",),
    "KIT": ("대전광역시 유성구 유성대로 141",), "KIOM": ("대전광역시 유성구 유성대로 1672",),
    "RRA": ("전라남도 나주시 빛가람로 767", "경기도 이천시 부발읍 경충대로 2138"), "KISA": ("전라남도 나주시 진흥길 9",), "NSR": ("대전광역시 유성구 가정로 1",),
}
_REGION_ADDRESS = {
    "seoul": "서울특별시 관악구 관악로 1", "daejeon": "대전광역시 유성구 대학로 99", "gyeongbuk": "경상북도 포항시 남구 청암로 77",
    "busan": "부산광역시 금정구 부산대학로63번길 2", "gyeongnam": "경상남도 진주시 충의로 10", "gyeonggi": "경기도 안산시 단원구 산단로 100",
    "jeonbuk": "전북특별자치도 전주시 덕진구 백제대로 567", "daegu": "대구광역시 북구 대학로 80", "gangwon": "강원특별자치도 춘천시 강원대학길 1",
}
_SUB_UNITS = ("", "", " 융합기술연구소", " 지역센터", " 기술사업화실", " 첨단소재연구단")
_MAKERS = ("Thermo Fisher Scientific", "Bruker", "JEOL", "Carl Zeiss", "Agilent", "Shimadzu", "Hitachi",
           "Instron", "(주)대한과학", "(주)코리아테크", "Keysight", "Rohde & Schwarz")
_USAGE = ("공동활용허용", "공동활용허용", "단독활용", "공동활용서비스")
_MINISTRIES = ("과학기술정보통신부", "산업통상자원부", "중소벤처기업부", "국토교통부", "해양수산부")


def _rng(source: str, index: int, version: int) -> random.Random:
    return random.Random(f"{source}:{index}:{version}")


def base_modified(index: int) -> int:
    """Epoch second of record ``index``'s last change before BASE_EPOCH (cheap: no RNG)."""
    return BASE_EPOCH - 1 - ((index * 2_654_435_761 + 97_531) % _SPAN)


def _owner(rng: random.Random, topic: Topic) -> tuple[str, str | None, str]:
    """(institution name as the source writes it, institute code or None, install address)."""
    if rng.random() < 0.78:
        code = rng.choice(topic.owners)
        name = _INSTITUTE_NAMES[code] + rng.choice(_SUB_UNITS)
        return name, code, rng.choice(_SITES[code])
    name, region = rng.choice(_OTHER_OWNERS)
    return name, None, _REGION_ADDRESS[region]


def _pick(rng: random.Random, options):
    return options[rng.randrange(len(options))]


def _texts(rng: random.Random, topic: Topic) -> dict[str, str]:
    obj, prob, meth = _pick(rng, topic.objects), _pick(rng, topic.problems), _pick(rng, topic.methods)
    return {"obj": obj[0], "obj_en": obj[1], "prob": prob[0], "prob_en": prob[1], "meth": meth[0], "meth_en": meth[1]}


def _eul(word: str) -> str:
    """The object particle that fits the word's last syllable (을 after a final consonant)."""
    last = word[-1] if word else "가"
    return "을" if "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 else "를"


def _version_note(version: int) -> str:
    return f" (개정 {version}판)" if version else ""


def patent(index: int, version: int = 0) -> dict:
    rng = _rng("patents", index, version)
    topic = TOPICS[index % len(TOPICS)]
    t = _texts(rng, topic)
    owner, code, address = _owner(rng, topic)
    year = 2008 + _rng("patents", index, 0).randrange(17)  # identity never changes between versions
    kind = rng.randrange(3)
    if kind == 0:
        title = f"{t['meth']}{_eul(t['meth'])} 이용한 {t['obj']}의 {t['prob']} 저감 방법 및 장치"
        title_en = f"Method and apparatus for reducing {t['prob_en']} in {t['obj_en']} using {t['meth_en']}"
    elif kind == 1:
        title = f"{t['prob']} 개선을 위한 {t['obj']} 제조 방법"
        title_en = f"Manufacturing method of {t['obj_en']} with improved {t['prob_en']}"
    else:
        title = f"{t['meth']} 기반 {t['obj']} {t['prob']} 검출 시스템"
        title_en = f"{t['meth_en'].capitalize()}-based system for detecting {t['prob_en']} in {t['obj_en']}"
    record = {
        "applNo": f"10{year}{index:07d}",
        "applDate": f"{year}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}",
        "regNo": f"10{rng.randrange(10**10):010d}" if rng.random() < 0.8 else None,
        "title": title + _version_note(version),
        "titleEn": title_en,
        "ipc": list(dict.fromkeys(rng.sample(topic.ipc, k=len(topic.ipc)))),
        "trl": 3 + rng.randrange(6),
        "managingOrg": owner,
        "orgAddress": address,
        "projectNo": f"{1711000000 + index}",
        "projectName": f"{t['obj']} {t['meth']} 원천기술 개발",
        "applicationFields": [t["obj"], t["meth"]],
        "advantages": f"기존 기술 대비 {t['prob']}{_eul(t['prob'])} {10 + rng.randrange(60)}% 줄이고 {t['obj']} 생산성을 높임.",
        "marketSize": f"국내 {1 + rng.randrange(900)}억 원 (20{20 + rng.randrange(6)})",
        "summary": (f"본 기술은 {t['meth']} 기술을 적용하여 {t['obj']}에서 발생하는 {t['prob']} 문제를 해결한다. "
                    f"중소기업의 {t['obj']} 공정에 바로 적용할 수 있으며 {t['prob_en']} is reduced by {t['meth_en']}."),
        "status": "ACTIVE",
    }
    if index % MALFORMED_EVERY == 13:
        record["trl"] = "높음"  # the odd listing with a free-text TRL
    return record


def ntis(index: int, version: int = 0) -> dict:
    rng = _rng("ntis", index, version)
    topic = TOPICS[(index * 7) % len(TOPICS)]
    t = _texts(rng, topic)
    owner, code, _address = _owner(rng, topic)
    start = 2015 + rng.randrange(10)
    gov = (1 + rng.randrange(50)) * 20_000_000
    record = {
        "ProjectNumber": f"{1415000000 + index}",
        "TitleKo": f"{t['meth']} 기반 {t['obj']}의 {t['prob']} 개선 기술 개발" + _version_note(version),
        "TitleEn": f"Development of {t['meth_en']} to mitigate {t['prob_en']} in {t['obj_en']}",
        "Manager": "홍길동",  # personal data the adapter must drop
        "ResearchAgency": owner,
        "OrderAgency": rng.choice(("한국산업기술기획평가원", "한국연구재단", "중소기업기술정보진흥원")),
        "Ministry": rng.choice(_MINISTRIES),
        "Start": f"{start}-04-01", "End": f"{start + 1 + rng.randrange(4)}-12-31",
        "GovernmentFunds": gov, "TotalFunds": gov + (rng.randrange(20) * 5_000_000),
        "Abstract": f"{t['obj']}의 {t['prob']} 문제를 {t['meth']} 기술로 해결하기 위한 연구를 수행하였다.",
        "Goal": f"{t['prob']} 30% 저감 및 {t['obj']} 품질 향상",
        "Effect": f"중소기업 {t['obj']} 생산 공정의 불량률 감소와 원가 절감",
        "KeywordKo": f"{t['obj']},{t['prob']},{t['meth']}", "KeywordEn": f"{t['obj_en']},{t['prob_en']},{t['meth_en']}",
    }
    if index % MALFORMED_EVERY == 13:
        record["TitleKo"] = ""  # a project without a title: counted as failed, never stored
        record["TitleEn"] = ""
    return record


def library(index: int, version: int = 0) -> dict:
    rng = _rng("library", index, version)
    topic = TOPICS[(index * 5 + 3) % len(TOPICS)]
    t = _texts(rng, topic)
    owner, code, _address = _owner(rng, topic)
    english = rng.random() < 0.3
    title = (f"A study on {t['prob_en']} of {t['obj_en']} by {t['meth_en']}" if english
             else f"{t['meth']}에 의한 {t['obj']}의 {t['prob']} 특성 연구")
    record = {
        "identifier": f"oai:lib.innopolis:{100000 + index}",
        "title": title + _version_note(version),
        "creator": "김연구",  # personal data the adapter must drop
        "publisher": owner,
        "subject": [t["obj"], t["prob"], t["meth"]] if not english else [t["obj_en"], t["prob_en"], t["meth_en"]],
        "description": (f"This report examines {t['prob_en']} in {t['obj_en']}." if english
                        else f"{t['obj']}에서 나타나는 {t['prob']} 현상을 분석하고 {t['meth']} 적용 효과를 검증한 보고서."),
        "date": f"{2012 + rng.randrange(14)}",
        "type": rng.choice(("연구보고서", "학술논문", "기술동향보고서")),
        "language": "eng" if english else "kor",
    }
    if index % MALFORMED_EVERY == 13:
        record["date"] = "연도미상"
        record["title"] = ""
    return record


def zeus(index: int, version: int = 0) -> dict:
    rng = _rng("zeus", index, version)
    slot = (index * 3 + 1) % len(TOPICS)
    while not TOPICS[slot].equipment:  # e.g. cyber security: no lab equipment to list
        slot = (slot + 1) % len(TOPICS)
    topic = TOPICS[slot]
    class_code, class_name, name_ko, name_en = _pick(rng, topic.equipment)
    owner, code, address = _owner(rng, topic)
    acquired = 2005 + _rng("zeus", index, 0).randrange(20)  # part of the id: fixed across versions
    record = {
        "equipId": f"Z{acquired}{index:07d}",
        "korNm": name_ko + _version_note(version),
        "engNm": name_en,
        "modelNm": f"{rng.choice('ABCDEFGHKMSTX')}{rng.choice('ABCDEFGHKMSTX')}-{100 + rng.randrange(9900)}",
        "makerNm": rng.choice(_MAKERS),
        "acqDate": f"{acquired}{1 + rng.randrange(12):02d}{1 + rng.randrange(28):02d}",
        "acqPrice": (3 + rng.randrange(400)) * 10_000_000,
        "orgNm": owner,
        "installLocation": address + f" {1 + rng.randrange(9)}동 {100 + rng.randrange(400)}호",
        "zipCode": f"{10000 + rng.randrange(53000):05d}",
        "stdClassCd": class_code,
        "stdClassNm": class_name,
        "useScope": rng.choice(_USAGE),
        "feature": f"{name_ko}: {_texts(rng, topic)['obj']} 시료의 {_texts(rng, topic)['prob']} 분석·평가에 활용",
        "status": "사용",
    }
    if index % MALFORMED_EVERY == 13:
        record["acqPrice"] = "미상"
        record["korNm"] = ""  # no name in either language: counted as failed
        record["engNm"] = ""
    return record


GENERATORS = {"patents": patent, "ntis": ntis, "library": library, "zeus": zeus}

# --------------------------------------------------------------------- ZEUS reservation side
BOOKABLE_SCOPES = ("공동활용허용", "공동활용서비스")  # equipment ZEUS lets outside users reserve
OPEN_HOURS = (9, 18)  # local (Asia/Seoul) opening hours of every bookable instrument, weekdays


def zeus_calendar(index: int) -> dict | None:
    """The reservation profile of equipment ``index``: fee table and opening hours, or None when
    the instrument is not open to outside users (or is the odd malformed record)."""
    rec = zeus(index)
    if rec["useScope"] not in BOOKABLE_SCOPES or not rec["korNm"]:
        return None
    rng = _rng("zeus-fee", index, 0)
    per_hour = rng.random() < 0.6
    fee = (3 + rng.randrange(18)) * 10_000 if per_hour else (2 + rng.randrange(9)) * 10_000
    return {"equipId": rec["equipId"], "korNm": rec["korNm"], "engNm": rec["engNm"], "orgNm": rec["orgNm"],
            "installLocation": rec["installLocation"], "feeUnit": "HOUR" if per_hour else "SAMPLE", "fee": fee,
            "openTime": f"{OPEN_HOURS[0]:02d}00", "closeTime": f"{OPEN_HOURS[1]:02d}00", "openDays": "12345"}


def zeus_busy_hours(index: int, day_iso: str) -> list[tuple[int, int]]:
    """Hours already booked at the source by its own users on ``day_iso`` (YYYY-MM-DD), as
    (start hour, end hour) local blocks: deterministic, about a third of the opening hours."""
    rng = random.Random(f"zeus-busy:{index}:{day_iso}")
    blocks, hour = [], OPEN_HOURS[0]
    while hour < OPEN_HOURS[1]:
        if rng.random() < 0.25:
            length = 1 + rng.randrange(3)
            blocks.append((hour, min(OPEN_HOURS[1], hour + length)))
            hour += length + 1
        else:
            hour += 1
    return blocks
