export default {
  "common": {
    "language": "Language",
    "languageTitle": "Page language (remembered in this browser)",
    "none": "—"
  },
  "race": {
  },
  "confusion": {
  }
};
