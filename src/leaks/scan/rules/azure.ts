import type { RuleSpec } from '../types.js';

/**
 * Azure: storage account keys (`AccountKey=` + 88 base64 characters, a 64-byte key, in connection
 * strings), Service Bus / Event Hubs / IoT `SharedAccessKey=` (44 base64 characters, a 32-byte
 * key), and Entra ID (Azure AD) application client secrets, whose fourth character is a digit
 * followed by the marker `Q~`.
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
