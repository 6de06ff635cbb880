import type { ProductInfo } from '../formats/record.js';

/** keyturn's version, as the SIEM formats name the product (kept in step with package.json by a test). */
export const PRODUCT: ProductInfo = Object.freeze({ version: '0.1.0' });
