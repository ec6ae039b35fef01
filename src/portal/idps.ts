/**
 * The identity providers the SSO setup offers, each with the protocol it is set up with and the steps an IT
 * administrator follows in that provider's console. The steps name the console's own labels (as of 2026), so the
 * values shown beside them can be pasted where they belong.
 */
export const IDP_KEYS = ['entra', 'okta', 'google', 'adfs', 'saml', 'oidc'] as const;
export type IdpKey = (typeof IDP_KEYS)[number];

export interface IdpGuide {
  name: string;
  protocol: 'saml' | 'oidc';
  blurb: string;
  /** Steps; `{entityId}`, `{acsUrl}`, `{metadataUrl}`, `{redirectUri}` name the values shown beside them. */
  steps: string[];
  /** Where the IdP's own metadata (or issuer) is found, for the form below the steps. */
  where: string;
}

export const IDPS: Record<IdpKey, IdpGuide> = {
  entra: {
    name: 'Microsoft Entra ID',
    protocol: 'saml',
    blurb: 'Azure AD / Entra ID enterprise application (SAML)',
    steps: [
      'In the Microsoft Entra admin center, open Enterprise applications → New application → Create your own application, and choose "Integrate any other application you don\'t find in the gallery".',
      'Open Single sign-on → SAML. Under Basic SAML Configuration, set Identifier (Entity ID) to the Entity ID below and Reply URL (Assertion Consumer Service URL) to the ACS URL below.',
      'Under Attributes & Claims, keep the Unique User Identifier as user.userprincipalname or user.mail; the emailaddress, givenname and surname claims are read as they are.',
      'Assign the users or groups who may sign in (Users and groups).',
    ],
    where: 'Under SAML Certificates, copy the App Federation Metadata Url, or download the Federation Metadata XML.',
  },
  okta: {
    name: 'Okta',
    protocol: 'saml',
    blurb: 'Okta SAML 2.0 app integration',
    steps: [
      'In the Okta Admin Console, open Applications → Create App Integration and choose SAML 2.0.',
      'Set Single sign-on URL to the ACS URL below (keep "Use this for Recipient URL and Destination URL" checked) and Audience URI (SP Entity ID) to the Entity ID below.',
      'Set Name ID format to EmailAddress and Application username to Email. Add attribute statements email → user.email, givenName → user.firstName, sn → user.lastName.',
      'Assign the people or groups who may sign in.',
    ],
    where: 'On the application\'s Sign On tab, copy the Metadata URL, or open it and save the XML.',
  },
  google: {
    name: 'Google Workspace',
    protocol: 'saml',
    blurb: 'Custom SAML app in the Google Admin console',
    steps: [
      'In the Google Admin console, open Apps → Web and mobile apps → Add app → Add custom SAML app.',
      'On "Google Identity Provider details", download the IdP metadata (or copy the SSO URL, Entity ID and certificate for the form below).',
      'On "Service provider details", set ACS URL and Entity ID to the values below, Name ID format to EMAIL and Name ID to Basic Information → Primary email.',
      'Turn the app ON for the organizational units or groups who may sign in.',
    ],
    where: 'The IdP metadata file from step 2.',
  },
  adfs: {
    name: 'AD FS',
    protocol: 'saml',
    blurb: 'Active Directory Federation Services relying party trust',
    steps: [
      'In AD FS Management, open Relying Party Trusts → Add Relying Party Trust → Claims aware.',
      'Choose "Import data about the relying party published online" and enter the Metadata URL below (or enter the data manually: the ACS URL as the SAML 2.0 WebSSO URL, the Entity ID as the relying party trust identifier).',
      'Edit the claim issuance policy: "Send LDAP Attributes as Claims" with E-Mail-Addresses → E-Mail Address, Given-Name → Given Name, Surname → Surname; then "Transform an Incoming Claim" from E-Mail Address to Name ID (Email format).',
    ],
    where: 'The federation metadata of AD FS: https://<your AD FS host>/FederationMetadata/2007-06/FederationMetadata.xml',
  },
  saml: {
    name: 'Other SAML 2.0 provider',
    protocol: 'saml',
    blurb: 'PingFederate, OneLogin, JumpCloud, Keycloak, Shibboleth, …',
    steps: [
      'Create a SAML 2.0 service provider (application) in your identity provider.',
      'Set its Assertion Consumer Service (HTTP-POST binding) to the ACS URL below and its audience / entity ID to the Entity ID below, or import the Metadata URL below.',
      'Sign assertions with RSA-SHA256. Send the email address as NameID (emailAddress format) or as an "email" attribute; "givenName" and "sn" are read when present.',
    ],
    where: 'Your provider\'s IdP metadata (URL or XML), or its entity ID, sign-in URL and signing certificate.',
  },
  oidc: {
    name: 'Other OpenID Connect provider',
    protocol: 'oidc',
    blurb: 'Okta OIDC, Auth0, Keycloak, Ping, any OpenID Connect issuer',
    steps: [
      'Create a web application (confidential client) using the authorization code flow in your identity provider.',
      'Add the Redirect URI below as an allowed sign-in redirect URI. Allow the scopes openid, email and profile.',
      'Copy the issuer URL, the client ID and the client secret into the form below.',
    ],
    where: 'The issuer is the URL whose /.well-known/openid-configuration your provider publishes.',
  },
};

export function isIdpKey(v: string): v is IdpKey {
  return (IDP_KEYS as readonly string[]).includes(v);
}
