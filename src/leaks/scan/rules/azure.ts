import type { AllowSpec, RuleSpec } from '../types.js';

/** The account key Microsoft publishes for Azurite, the local storage emulator: public, not a secret. */
const AZURITE: AllowSpec = { stopwords: ['Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='] };

/**
 * Azure: storage account keys (`AccountKey=` + 88 base64 characters, a 64-byte key, in connection
 * strings), Service Bus / Event Hubs / IoT `SharedAccessKey=` (44 base64 characters, a 32-byte
 * key), and Entra ID (Azure AD) application client secrets, whose fourth character is a digit
 * followed by the marker `Q~`. A storage account key also appears outside connection strings,
 * assigned to an account-key name (`AccountKey`, `account_key`, `storageAccountKey`,
 * `AZURE_STORAGE_KEY`, `-storagekey`, …) in code, YAML, XML and command lines: 88 base64 characters
 * ending `==` next to such a name. Azure DevOps personal access tokens (52 characters of
 * lowercase base32 before 2024, 84 characters with the `AZDO` signature since) are recognised next
 * to an Azure name.
 * Written from the provider's published token format.
 */
export const rules: readonly RuleSpec[] = [
  {
    id: 'azure-storage-account-key',
    kind: 'azure',
    description: 'Azure storage account key (connection string AccountKey)',
    keywords: ['AccountKey'],
    pattern: 'AccountKey=([A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])',
    entropy: 4.0,
    priority: 10,
    allow: AZURITE,
  },
  {
    id: 'azure-storage-account-key-named',
    kind: 'azure',
    description: 'Azure storage account key assigned to an account-key name',
    keywords: ['accountkey', 'account_key', 'account-key', 'storagekey', 'storage_key', 'storageaccesskey', 'storage_access_key'],
    pattern:
      '(?:account|storage)[_.-]?(?:access[_.-]?)?key(?:[\\s"\'`:=>{}(),\\[\\]|]|//|value){1,40}?([A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])',
    flags: 'i',
    entropy: 4.0,
    priority: 10,
    allow: AZURITE,
  },
  {
    id: 'azure-devops-pat',
    kind: 'azure',
    description: 'Azure DevOps personal access token next to an Azure name',
    keywords: ['azure', 'ado_', 'azdo'],
    pattern: '(?:[Aa]zure|AZURE|\\b[Aa]do|\\bADO|[Aa]zdo|AZDO)[\\w.-]{0,30}?[\\s"\'`:=>{}(),]{1,20}?([a-z0-9]{52}|[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})(?![A-Za-z0-9_-])',
    entropy: 3.5,
    validate: 'provider-value',
    priority: 10,
  },
  {
    id: 'azure-shared-access-key',
    kind: 'azure',
    description: 'Azure Service Bus, Event Hubs or IoT Hub shared access key',
    keywords: ['SharedAccessKey='],
    pattern: 'SharedAccessKey=([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])',
    entropy: 4.0,
    priority: 10,
  },
  {
    id: 'azure-ad-client-secret',
    kind: 'azure',
    description: 'Microsoft Entra ID (Azure AD) application client secret',
    keywords: ['Q~'],
    pattern: '(?<![A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.-])',
    entropy: 3.5,
    priority: 10,
  },
];
