export default {
  "common": {
    "language": "语言",
    "languageTitle": "页面语言（本浏览器会记住）",
    "none": "—"
  },
  "race": {
  },
  "confusion": {
  }
};
