"""Names of the VIHF profile (ANS CI-SIS "transport synchrone pour client lourd"), SAML 2.0,
XML-DSig and WS-Security: namespaces, attribute names, algorithm URIs and code-system OIDs,
each with the name its standard gives it. Source: ../shared/spec/vihf.md.
"""
from __future__ import annotations

# -- namespaces ---------------------------------------------------------------------------
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
HL7V3 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = "http://www.w3.org/XML/1998/namespace"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

# -- SAML ---------------------------------------------------------------------------------
SAML_VERSION = "2.0"
NAMEID_X509_SUBJECT = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
AC_CLASSES = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
AC_SMARTCARD_PKI = AC_CLASSES + "SmartcardPKI"
AC_PASSWORD = AC_CLASSES + "Password"
AC_TLS_CLIENT = AC_CLASSES + "TLSClient"
AC_UNSPECIFIED = AC_CLASSES + "unspecified"
AUTHN_DECL_APP_BROWSER = "APP_BROWSER_AUTH"

# -- VIHF attribute names (spec §4; exact and case-sensitive) ------------------------------
VIHF_VERSION = "VIHF_Version"
SUBJECT_ID = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
SUBJECT_ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
SECTEUR_ACTIVITE = "Secteur_Activite"
IDENTIFIANT_STRUCTURE = "Identifiant_Structure"
AUTHENTIFICATION_MODE = "Authentification_Mode"
RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
RESSOURCE_URN = "Ressource_URN"
PURPOSE_OF_USE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
CONFIDENTIALITY_CODE = "urn:oasis:names:tc:xspa:1.0:resource:patient:hl7:confidentiality-code"
# Justification of a break-the-glass access. Seen as a Pro Santé Connect claim; its use as a
# VIHF attribute is unconfirmed (spec §4.3), so it is read when present and never required.
MODE_ACCES_RAISON = "Mode_Acces_Raison"
LPS_NOM = "LPS_Nom"
LPS_VERSION = "LPS_Version"
LPS_ID = "LPS_ID"
LPS_ID_HOMOLOGATION_DMP = "LPS_ID_HOMOLOGATION_DMP"

# Mandatory attributes (spec §4 "M"). resource-id is conditional (the patient of the request).
MANDATORY_ATTRIBUTES = (
    VIHF_VERSION,
    SUBJECT_ID,
    SUBJECT_ROLE,
    SECTEUR_ACTIVITE,
    IDENTIFIANT_STRUCTURE,
    AUTHENTIFICATION_MODE,
    RESSOURCE_URN,
    PURPOSE_OF_USE,
    LPS_NOM,
)

VIHF_VERSIONS_KNOWN = ("3.0", "4.0")
DEFAULT_VIHF_VERSION = "3.0"

# Authentification_Mode values (spec §3.4).
DIRECTE = "DIRECTE"
INDIRECTE = "INDIRECTE"
INDIRECTE_RENFORCEE = "INDIRECTE_RENFORCEE"
AUTHENTICATION_MODES = (DIRECTE, INDIRECTE, INDIRECTE_RENFORCEE)

# -- code systems (OIDs) ------------------------------------------------------------------
TRE_G15_PROFESSION_SANTE = "1.2.250.1.71.1.2.7"
TRE_G16_PROFESSION_FORMATION = "1.2.250.1.71.1.2.8"
TRE_A00_PRODUCTEUR_DOC_NON_PS = "1.2.250.1.213.1.1.4.6"
TRE_R01_ENSEMBLE_SAVOIR_FAIRE = "1.2.250.1.71.4.2.5"
TRE_G05_SOUS_SECTION_CNOP = "1.2.250.1.71.4.2.6"
TRE_R02_SECTEUR_ACTIVITE = "1.2.250.1.71.4.2.4"
JDV_J38_MODE_ACCES_CISIS = "1.2.250.1.213.1.1.4.248"
TRE_R248_MODE_ACCES = "1.2.250.1.213.1.1.4.336"

# First role value: profession (G15), profession in training (G16) or non-PS producer (A00).
FIRST_ROLE_CODE_SYSTEMS = (TRE_G15_PROFESSION_SANTE, TRE_G16_PROFESSION_FORMATION, TRE_A00_PRODUCTEUR_DOC_NON_PS)
TRE_A00_CODES = ("ALIM_AM", "DISPOSITIF", "EXP_PATIENT", "SECRETARIAT_MEDICAL", "AUTOMATE")
# A médecin (10) or pharmacien (21) must give a second role value (spec §4.1, §6.8).
SECOND_ROLE_REQUIRED = {"10": TRE_R01_ENSEMBLE_SAVOIR_FAIRE, "21": TRE_G05_SOUS_SECTION_CNOP}
PURPOSE_CODE_SYSTEMS = (JDV_J38_MODE_ACCES_CISIS, TRE_R248_MODE_ACCES)

# TRE_R248-ModeAcces codes (case-insensitive terminology).
NORMAL = "normal"
BRIS_DE_GLACE = "bris_de_glace"
CENTRE_15 = "centre_15"
PURPOSES = (NORMAL, BRIS_DE_GLACE, CENTRE_15)
PURPOSE_DISPLAY = {NORMAL: "Accès normal", BRIS_DE_GLACE: "Accès en bris de glace", CENTRE_15: "Accès en centre 15"}

# INS assigning authorities (identity-fr.md): NIR, NIA, test NIR, demo NIR.
INS_NIR = "1.2.250.1.213.1.4.8"
INS_NIA = "1.2.250.1.213.1.4.9"
INS_NIR_TEST = "1.2.250.1.213.1.4.10"
INS_NIR_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = (INS_NIR, INS_NIA, INS_NIR_TEST, INS_NIR_DEMO)

# -- XML-DSig algorithms ------------------------------------------------------------------
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
# PrefixList of the ANS samples (spec §5.1), kept verbatim.
INCLUSIVE_PREFIXES = ("ds", "saml", "#default", "xsi")
