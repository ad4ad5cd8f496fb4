export * from './schema';
export * from './validate';
export * from './chain';
export * from './digest';
export * from './ids';
export * from './names';
export * from './time';
export * from './token';
