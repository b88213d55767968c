export default {
  "common": {
    "language": "语言",
    "languageTitle": "页面语言（本浏览器会记住）",
    "none": "—"
  },
  "race": {
  },
  "confusion": {
    "title": "混淆矩阵",
    "loading": "加载中…",
    "empty": "此日志目录中还没有混淆矩阵。请用 summaries 的混淆矩阵摘要记录（每步一个 [位置, 类别, 类别] 的计数张量）。",
    "pooled": "所有位置合并",
    "cell": "真实 {true} → 预测 {predicted}",
    "keys": "混淆矩阵：用方向键在单元格之间移动，按 Enter 查看该单元格的图像",
    "info": {
      "single": {
        "one": "：{classes} 个类别，{count} 步",
        "other": "：{classes} 个类别，{count} 步"
      },
      "positions": {
        "one": "：{positions} 个位置 × {classes} 个类别，{count} 步",
        "other": "：{positions} 个位置 × {classes} 个类别，{count} 步"
      }
    },
    "controls": {
      "run": "运行 (A)",
      "compare": "对比 (B)",
      "none": "无",
      "differentClasses": "{series}（类别不同）",
      "normalise": "归一化",
      "errors": "只给错误着色",
      "errorsTitle": "只给非对角线单元格（即错误）着色"
    },
    "mode": {
      "count": "计数",
      "true": "按真实类别（召回率）",
      "predicted": "按预测类别（精确率）"
    },
    "legend": {
      "count": "计数{errors}",
      "countPerPosition": "每个位置的计数{errors}",
      "countPooled": "计数，所有位置合并{errors}",
      "true": "占真实类别（行）的百分比",
      "predicted": "占预测类别（列）的百分比",
      "share": "占全部样本的比例",
      "offDiagonal": "，仅非对角线单元格",
      "compare": "B − A 的变化：{what}，单位为百分点{errors}"
    },
    "compare": {
      "better": "B 更好（{run}）▶",
      "worse": "◀ B 更差（{run}）",
      "kind": {
        "same": "逐个位置对比：A 的每个位置与 {run} 的同一位置。",
        "shared": "对比所有位置合并的结果，以及两个运行中同名的 {shared} 个位置（A 有 {a} 个位置，B 有 {b} 个）。",
        "pooled": "只对比所有位置合并的结果：两个运行的位置不同（A 有 {a} 个位置，B 有 {b} 个）。"
      }
    },
    "verdict": {
      "better": "B 更好",
      "worse": "B 更差",
      "same": "没有变化"
    },
    "map": {
      "accuracy": "准确率 {value}",
      "samples": {
        "one": "{samples} 个样本 · {detail}",
        "other": "{samples} 个样本 · {detail}"
      },
      "withB": "{detail} · B {value}",
      "notInB": "{detail} · B 中没有"
    },
    "tip": {
      "count": "计数 {count}",
      "countB": "计数 {count}（B {b}）",
      "ofTrue": "占真实类别 {name} 的 {value}（共 {total}）",
      "ofPredicted": "占预测类别 {name} 的 {value}（共 {total}）",
      "diff": "A {a} · B {b} · B − A {change} 个百分点：{verdict}",
      "click": "点击（或按 Enter）查看图像"
    },
    "axis": {
      "predicted": "预测",
      "true": "真实"
    },
    "zoom": {
      "out": "缩小（单元格更小）",
      "in": "放大（单元格更大）",
      "fit": "适应",
      "fitTitle": "适应面板大小",
      "label": "缩放"
    },
    "steps": {
      "play": "播放",
      "pause": "暂停",
      "playTitle": "播放训练过程",
      "step": "步",
      "label": "第 {step} 步（第 {n} 个，共 {count} 个）",
      "labelThinned": "第 {step} 步（第 {n} 个，共 {count} 个，从 {total} 个中抽取）",
      "b": " · B 在第 {step} 步"
    },
    "accuracy": {
      "title": "第 {step} 步的准确率",
      "position": "位置",
      "accuracy": "准确率",
      "b": "B",
      "change": "B − A",
      "sequence": "整个序列",
      "sequenceTag": "整个序列的准确率取自记录的标量“{tag}”。",
      "noSequence": "此运行没有记录整个序列的准确率（无法从各位置的矩阵推出）。"
    },
    "chart": {
      "label": "训练过程中的准确率",
      "step": "第 {step} 步",
      "atStep": "（第 {step} 步）",
      "pooled": "合并",
      "run": "{which}：{run}",
      "sequence": "{which}：整个序列",
      "compareNote": "A 与 B：所有位置合并的准确率，各运行按各自的步。",
      "compareSingle": "A 与 B：准确率，各运行按各自的步。"
    },
    "pairs": {
      "title": "第 {step} 步最易混淆的类别对",
      "titleCompare": "第 {step} 步最易混淆的类别对：A 与 B",
      "position": "位置",
      "pair": "真实 → 预测",
      "count": "计数",
      "rate": "占真实类别",
      "rateA": "A，占真实类别",
      "rateB": "B，占真实类别",
      "change": "B − A",
      "none": "此步没有混淆。",
      "show": "查看图像",
      "pooledOnly": "所有位置合并（两个运行的位置不同）。"
    },
    "metrics": {
      "title": "各类别指标",
      "position": "位置",
      "macro": "宏平均",
      "compareNote": "每项是 A 的指标，下方是 B − A。",
      "notInB": "B 中没有这个位置：只显示 A。",
      "head": {
        "class": "类别",
        "precision": "精确率",
        "recall": "召回率",
        "f1": "F1",
        "support": "样本数"
      }
    },
    "examples": {
      "close": "关闭",
      "correct": "预测正确：只保存分类错误的图像。",
      "noTag": "此运行没有记录示例图像。",
      "noneYet": "还没有记录示例图像。",
      "step": "第 {step} 步",
      "nearest": "第 {step} 步（最近的有图像的步；第 {requested} 步没有）",
      "misclassified": {
        "one": "{n} 个分类错误，",
        "other": "{n} 个分类错误，"
      },
      "stored": {
        "one": "保存了 {n} 张图像",
        "other": "保存了 {n} 张图像"
      },
      "capCell": "（每个单元格最多 {n} 张）",
      "capPosition": "（每个位置的每个单元格最多 {n} 张）",
      "alt": "真实 {true}，预测 {predicted}",
      "noImages": "此单元格没有保存的图像。"
    },
    "error": {
      "runs": "无法加载运行：{error}",
      "series": "无法加载 {series}：{error}",
      "metrics": "无法加载指标：{error}",
      "images": "无法加载图像：{error}",
      "unreadable": "无法读取 {series}：{error}"
    }
  }
};
