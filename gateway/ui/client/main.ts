// The UI's one script, served from the gateway's own origin (the CSP allows no other): each feature enhances the
// server-rendered page where its markers are, so every page still reads without JavaScript.
type Feature = (root: Document) => void;

const features: readonly Feature[] = [];

for (const feature of features) feature(document);
