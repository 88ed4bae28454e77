/** "1 node", "3 nodes" (or `many` where adding an s is wrong). */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
