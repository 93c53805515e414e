"""Namespaces, template ids and OIDs of CDA R2, IHE and the French CI-SIS, named as the
standards name them."""
from __future__ import annotations

# -- namespaces ---------------------------------------------------------------------------
HL7V3 = "urn:hl7-org:v3"
SDTC = "urn:hl7-org:sdtc"
IHE_LAB = "urn:oid:1.3.6.1.4.1.19376.1.3.2"  # XD-LAB extension namespace (lab:)
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"cda": HL7V3, "sdtc": SDTC, "lab": IHE_LAB, "xsi": XSI}

# -- CDA R2 -------------------------------------------------------------------------------
CDA_TYPE_ID_ROOT = "2.16.840.1.113883.1.3"
CDA_TYPE_ID_EXTENSION = "POCD_HD000040"

# -- code systems -------------------------------------------------------------------------
LOINC = "2.16.840.1.113883.6.1"
UCUM = "2.16.840.1.113883.6.8"
ATC = "2.16.840.1.113883.6.73"
HL7_CONFIDENTIALITY = "2.16.840.1.113883.5.25"
HL7_ADMINISTRATIVE_GENDER = "2.16.840.1.113883.5.1"
HL7_ACT_CODE = "2.16.840.1.113883.5.4"
HL7_OBSERVATION_INTERPRETATION = "2.16.840.1.113883.5.83"
TRE_A07_STATUT_VISIBILITE = "1.2.250.1.213.1.1.4.13"

# -- French identifiers (ANS) -------------------------------------------------------------
INS_NIR = "1.2.250.1.213.1.4.8"
INS_NIA = "1.2.250.1.213.1.4.9"
INS_NIR_TEST = "1.2.250.1.213.1.4.10"
INS_NIR_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = frozenset({INS_NIR, INS_NIA, INS_NIR_TEST, INS_NIR_DEMO})
IDNAT_PS = "1.2.250.1.71.4.2.1"      # national health-professional identifiers (RPPS/ADELI)
IDNAT_STRUCT = "1.2.250.1.71.4.2.2"  # national structure identifiers (FINESS, SIRET, ...)

# -- document templates -------------------------------------------------------------------
HL7_FRANCE_HEADER = "2.16.840.1.113883.2.8.2.1"
CISIS_STRUCTURATION_MINIMALE = "1.2.250.1.213.1.1.1.1"
CISIS_PREFIX = "1.2.250.1.213.1.1."
XD_LAB_REPORT = "1.3.6.1.4.1.19376.1.3.3"
CISIS_CR_BIO = "1.2.250.1.213.1.1.1.55"
IHE_IMMUNIZATION_CONTENT = "1.3.6.1.4.1.19376.1.5.3.1.1.18.1.2"
CISIS_VAC_CARNET = "1.2.250.1.213.1.1.1.37"   # carnet de vaccination (LOINC 11369-6)
CISIS_VAC_NOTE = "1.2.250.1.213.1.1.1.46"     # note de vaccination 2023.01 (LOINC 87273-9)
XDS_SD = "1.3.6.1.4.1.19376.1.2.20"

# -- XD-LAB (IHE PaLM TF-3 / Lab TF-3) ----------------------------------------------------
XD_LAB_SPECIALTY_SECTION = "1.3.6.1.4.1.19376.1.3.3.2.1"
XD_LAB_REPORT_ITEM_SECTION = "1.3.6.1.4.1.19376.1.3.3.2.2"
XD_LAB_DATA_PROCESSING_ENTRY = "1.3.6.1.4.1.19376.1.3.1"
XD_LAB_RESULT_ORGANIZER = "1.3.6.1.4.1.19376.1.3.1.4"
XD_LAB_RESULT_OBSERVATION = "1.3.6.1.4.1.19376.1.3.1.6"

# -- CR-BIO (CI-SIS) ----------------------------------------------------------------------
CRBIO_SPECIALTY_SECTION = "1.2.250.1.213.1.1.2.70"
CRBIO_REPORT_ITEM_SECTION = "1.2.250.1.213.1.1.2.71"
CRBIO_DATA_PROCESSING_ENTRY = "1.2.250.1.213.1.1.3.21"
CRBIO_RESULT_OBSERVATION = "1.2.250.1.213.1.1.3.80"

# -- vaccination (IHE PCC / CCD / CI-SIS) ---------------------------------------------------
PCC_IMMUNIZATIONS_SECTION = "1.3.6.1.4.1.19376.1.5.3.1.3.23"
CCD_IMMUNIZATIONS_SECTION = "2.16.840.1.113883.10.20.1.6"
CISIS_IMMUNIZATIONS_SECTION = "1.2.250.1.213.1.1.2.147"
PCC_IMMUNIZATION_ENTRY = "1.3.6.1.4.1.19376.1.5.3.1.4.12"
CCD_MEDICATION_ACTIVITY = "2.16.840.1.113883.10.20.1.24"
CISIS_IMMUNIZATION_ENTRY = "1.2.250.1.213.1.1.3.45"
PCC_PRODUCT_ENTRY = "1.3.6.1.4.1.19376.1.5.3.1.4.7.2"
DOSE_RANK_OBSERVATION_LOINC = "30973-2"

# LOINC codes of XD-LAB reports: the multi-disciplinary report and the specialties
# (Lab TF-3 2.3.4.1.1 / PaLM TF-3 6.3.2.x).
XD_LAB_DOCUMENT_CODES = frozenset({
    "11502-2", "18717-9", "18718-7", "18719-5", "18720-3", "18721-1", "18722-9", "18723-7",
    "18724-5", "18725-2", "18727-8", "18728-6", "18729-4", "18767-4", "18768-2", "18769-0",
    "26435-8", "26436-6", "26437-4", "26438-2",
})
XD_LAB_SPECIALTY_CODES = XD_LAB_DOCUMENT_CODES - {"11502-2"}
