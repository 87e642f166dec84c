export * from './gateway-config';
export * from './licence-source-config';
export * from './stand-in-library-config';
