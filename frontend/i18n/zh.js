export default {
  "common": {
    "language": "语言",
    "languageTitle": "页面语言（本浏览器会记住）",
    "none": "—",
    "error": {
      "network": "TensorBoard 没有响应（它可能已停止，或网络中断）。请确认 TensorBoard 仍在运行，然后重新加载页面。",
      "server": "TensorBoard 的服务器处理这个请求时出错（HTTP {status}）。请重新加载页面；如果再次出现，TensorBoard 的终端输出会说明原因。",
      "notFound": "日志中已经没有它了（服务器说：{detail}）。请重新加载页面，查看 logdir 现在的内容。",
      "refused": "服务器拒绝了这个请求（它说：{detail}）。请重新加载页面；如果再次出现，请报告这个问题。"
    }
  },
  "race": {
    "loading": "正在加载优化器竞赛…",
    "loadingRace": "正在加载 {race}…",
    "empty": "这个日志目录里还没有优化器竞赛。可以用 `flowscope race --logdir DIR` 写入一场。",
    "header": {
      "title": "优化器竞赛",
      "race": "竞赛",
      "option": {
        "one": "{race} · {count} 个参赛者",
        "other": "{race} · {count} 个参赛者"
      },
      "surface": "曲面：{surface}",
      "noSurface": "曲面未知",
      "formula": "f({x}, {y}) = {formula}"
    },
    "controls": {
      "play": "播放",
      "pause": "暂停",
      "playTitle": "播放竞赛（空格键）",
      "pauseTitle": "暂停（空格键）",
      "speed": "速度",
      "speedValue": "{speed}×",
      "step": "步",
      "stepOf": "第 {step} / {max} 步",
      "keys": "方向键前进或后退一步（Shift：十步），Home 和 End 跳到首尾，空格键播放或暂停"
    },
    "cards": {
      "map": "损失曲面",
      "loss": "每步的损失",
      "racers": "参赛者",
      "board": "排行榜"
    },
    "map": {
      "zoomGroup": "地图缩放",
      "zoomIn": "放大",
      "zoomOut": "缩小",
      "fit": "适配路径",
      "fitTitle": "缩放到所显示参赛者的路径",
      "whole": "整个曲面",
      "wholeTitle": "显示曲面的整个窗口",
      "zoomHint": "滚轮或双指缩放，拖动平移",
      "keysLabel": "损失地图：获得焦点后，方向键平移（按住 Shift 移得更远），+ 和 − 缩放，0 显示整个曲面",
      "levelsLog": {
        "one": "{count} 条按对数间隔的等高线，从 {low} 到 {high}",
        "other": "{count} 条按对数间隔的等高线，从 {low} 到 {high}"
      },
      "levelsLinear": {
        "one": "{count} 条等间隔的等高线，从 {low} 到 {high}",
        "other": "{count} 条等间隔的等高线，从 {low} 到 {high}"
      },
      "legendMinimum": "★ 已知极小值",
      "legendStart": "○ 起点",
      "legendCross": "× 发散或逃逸（到达该步时显示）",
      "clickHint": "点击路径可跳到那一步",
      "colorbar": "损失",
      "colorbarTitle": "损失：背景的颜色；刻度是等高线的取值",
      "minimum": "已知极小值 ({x}, {y})",
      "start": "起点",
      "startAt": "起点 ({x}, {y})",
      "direction1": "方向 1",
      "direction2": "方向 2",
      "planeExplained": "平面的两个方向分别解释了参赛者自起点以来运动的 {a} 和 {b}",
      "planeCaptured": "平面包含其中的 {share}；其余部分被投影隐藏",
      "divergedAt": "{name} 在第 {step} 步发散",
      "escapedAt": "{name} 在第 {step} 步逃逸",
      "whatifTag": "（假设实验）",
      "tipStep": "第 {step} 步",
      "tipPosition": "({xname}, {yname}) = ({x}, {y})",
      "tipLoss": "损失 {loss}",
      "viewLevels": {
        "library": "等高线和颜色按当前视图计算，取自曲面的公式",
        "interpolated": "等高线和颜色按当前视图计算，由日志中的网格插值"
      }
    },
    "loss": {
      "step": "步",
      "axisLog": "损失（对数）",
      "axisSymlog": "损失（对称对数）",
      "logNote": "损失使用对数坐标轴。× 标出参赛者发散或逃逸的位置（到达时显示）。",
      "logNoteZeros": "损失使用对数坐标轴（恰好为 0 的损失画在底边上）。× 标出参赛者发散或逃逸的位置（到达时显示）。",
      "symlogNote": "损失使用对称对数坐标轴：有些损失 ≤ 0（例如鞍点），所以坐标为 sign(loss)·log10(1 + |loss|/{c})，在 ±{c} 以内是线性的。",
      "tipStep": "第 {step} 步",
      "diverged": "已发散",
      "escaped": "已逃逸"
    },
    "racers": {
      "show": "显示 {name}",
      "shared": "{title}（{id}）",
      "tuned": "已调参",
      "tunedTitle": "{budget} 次试验中最好的（{method}）；目标：{objective}",
      "atEdge": "在边界上",
      "atEdgeTitle": "最优值位于搜索空间的边界（{edge}）：请扩大搜索范围"
    },
    "whatif": {
      "help": "拖动学习率或动量（或输入一个数值），服务器会用真实的 Keras 优化器重新运行该优化器；路径、损失曲线和排行榜中的那一行会随之更新。",
      "off": "这场竞赛不能做假设实验：{reason}",
      "fixed": "这场竞赛的路径是固定的",
      "unavailable": "这个参赛者不能做假设实验",
      "why": {
        "surface": "假设实验只能在解析曲面上重新运行；这场竞赛的曲面是 {surface}。",
        "projected": "假设实验只能在解析曲面上重新运行；这场竞赛的曲面是 {surface}，它是模型损失的投影。",
        "metadata": "假设实验需要读取这位参赛者的元数据，但无法读取：{error}。",
        "optimizer": "假设实验只能重新运行 Flowscope 自带的 Keras 优化器；{optimizer} 按日志原样显示。"
      },
      "noPath": "这个参赛者没有可以重新运行的路径。",
      "noLr": "日志中没有这个参赛者的学习率。",
      "lr": "学习率",
      "momentum": "动量",
      "lrLabel": "{name}：学习率",
      "lrTitle": "假设实验的学习率（输入数值后按回车）",
      "lrSlider": "{name}：学习率滑块（对数刻度）",
      "lrSliderTitle": "拖动以改变学习率（对数刻度）",
      "momentumLabel": "{name}：动量",
      "momentumTitle": "假设实验的动量，范围 0 到 0.999",
      "momentumSlider": "{name}：动量滑块",
      "reset": "还原",
      "resetTitle": "回到日志中记录的路径",
      "computing": "正在重新计算…",
      "shown": "假设实验：{hyper}——不是日志中记录的路径",
      "chip": "假设实验",
      "approx": "近似：由 {count} 条预先计算的真实路径混合而成（最近的是 {hyper}）；松开滑块后换成精确路径",
      "bannerApprox": "{names}：拖动滑块时显示的是近似路径（由预先计算的真实 Keras 运行混合而成）；松开后换成精确路径。",
      "badLr": "学习率必须是 {min} 到 {max} 之间的数（而不是“{value}”）。",
      "badMomentum": "动量必须是 {min} 到 {max} 之间的数（而不是“{value}”）。",
      "failed": "服务器无法用这些数值重新运行这个优化器。{error}",
      "staleLogged": "地图和排行榜仍显示日志中记录的路径。",
      "staleShown": "地图和排行榜仍显示上一次的假设实验，已标为过时。",
      "staleChip": "已过时",
      "staleTitle": "不是该参赛者输入框中的数值：数值无效或无法运行",
      "banner": {
        "one": "{names} 正在做假设实验：路径由服务器重新计算，不再是日志中记录的运行（记录的路径以点线显示）。点“还原”可以回去。",
        "other": "{names} 正在做假设实验：路径由服务器重新计算，不再是日志中记录的运行（记录的路径以点线显示）。点“还原”可以回去。"
      },
      "bannerStale": {
        "one": "{names}：显示的路径不对应输入的数值（见该参赛者的提示）。",
        "other": "{names}：显示的路径不对应输入的数值（见各参赛者的提示）。"
      },
      "bannerNone": "每条路径显示的都是记录的运行（what-if 会用其他数值重新运行一个选手）。"
    },
    "board": {
      "rank": "#",
      "rankTitle": "按到达排名：先看稳定步，再看首次进入容差的步，最后看最终损失；并列者名次相同，从未到达的排在后面",
      "optimizer": "优化器",
      "optimizerTitle": "优化器（参赛者）",
      "hyper": "超参数",
      "hyperTitle": "学习率及其他超参数",
      "finalLoss": "最终损失",
      "finalLossTitle": "最后一步的损失",
      "bestLoss": "最佳损失",
      "bestLossTitle": "达到的最低损失",
      "distance": "距极小值",
      "distanceTitle": "最终位置到最近的已知极小值的距离",
      "firstEntry": "首次进入容差",
      "firstEntryTitle": "首次进入某个极小值容差范围的步",
      "settled": "稳定",
      "settledTitle": "从这一步起参赛者一直停留在容差范围内",
      "status": "状态",
      "statusTitle": "结果：到达、N 步内未到达、逃逸（离开了无下界曲面的窗口）或发散（NaN、Inf 或离开窗口）",
      "sortTitle": "{what}——点击（或按回车）排序，再点一次反向",
      "arrivalDistance": "距已知极小值 {tol} 以内算作到达",
      "arrivalLoss": "损失不高于 {tol} 算作到达（这个曲面没有已知极小值）",
      "arrivalNone": "不衡量是否到达（没有已知的容差）",
      "note": "步数从 0 开始；{arrival}。# 按到达排名（先看稳定步，再看首次进入容差的步，最后看最终损失；并列者名次相同）。逃逸 = 离开了没有下界的曲面的地图（这正是那里的目标）；发散 = NaN、Inf 或远离地图。点击列标题排序；假设实验的行显示重新计算的路径，而不是日志中的运行。",
      "asOf": "截至第 {step} / {max} 步：只显示到目前为止发生的事（名次、到达、结果）；整场竞赛的结论在最后一步显示。",
      "verdict": "整场竞赛：最后一步的结论。",
      "lossNow": "当前损失",
      "lossNowTitle": "当前显示的步的损失（最后一步即最终损失）",
      "rankModelTitle": "按{what}排名（{order}）；发散的参赛者排在最后，并列者名次相同",
      "whatTrainLoss": "最终训练损失",
      "whatValLoss": "最佳验证损失",
      "whatMetric": "最佳验证 {metric}",
      "lowFirst": "越低越靠前",
      "highFirst": "越高越靠前",
      "targetOnTrainLoss": "训练损失（该步所用批次上的）",
      "targetOnValLoss": "验证损失",
      "targetOnMetric": "验证 {metric}",
      "trainLoss": "最终训练损失",
      "trainLossTitle": "最后一步所用批次上的训练损失",
      "trainLossNow": "当前训练损失",
      "bestValLoss": "最佳验证损失",
      "bestValLossTitle": "记录到的最低验证损失（每隔一段步数在验证数据上用 Model.evaluate 计算）",
      "bestMetric": "最佳验证 {metric}",
      "bestMetricMaxTitle": "验证数据上记录到的 {metric} 最高值（越高越好）",
      "bestMetricMinTitle": "验证数据上记录到的 {metric} 最低值（越低越好）",
      "targetStep": "达标步数",
      "targetStepTitle": "{what}首次达到 {op} {target} 的那一步",
      "targetSeconds": "达标用时（秒）",
      "targetSecondsTitle": "该参赛者直到{what}达到 {op} {target} 为止花在自己训练上的时间（只计它自己的训练步，不含验证）",
      "msPerStep": "毫秒/步",
      "msPerStepTitle": "该参赛者一个训练步的平均墙钟时间：它自己的编译后训练步，单独计时（各参赛者在每个批次上轮流训练）",
      "msPerStepBatchedTitle": "所有参赛者一起走一步的平均墙钟时间（它们在同一个编译后的程序里运行，无法按参赛者拆分）",
      "targetGiven": "目标：{what} {op} {target}（你设定的）。",
      "targetDefault": "目标：{what} {op} {target}，即从共同起点走到所有参赛者最佳值的 90 % 处（可用 --target 自行设定）。",
      "targetNone": "没有目标：没有参赛者得到可以比较的数值。",
      "timingSequential": "每个参赛者自己的编译后训练步，单独计时（各参赛者在每个批次上轮流训练）",
      "timingBatched": "所有参赛者合在一个编译后训练步里的用时（无法按参赛者拆分）",
      "modelNote": "# 按{what}排名（{order}）；发散的参赛者排在最后。{target}目标只在测量该数值的步上检查：验证数值在每次验证时检查，训练损失每一步都检查；达标用时只计该参赛者自己的训练步。毫秒/步：{timing}。点击列标题可排序。"
    },
    "status": {
      "noData": "无数据",
      "arrived": "第 {step} 步到达",
      "arrivedTitle": "从这一步到最后一直停留在容差范围内",
      "escaped": "第 {step} 步逃逸",
      "escapedTitle": "离开了没有下界的曲面的窗口：逃逸正是这一课的目标，而不是发散",
      "diverged": "第 {step} 步发散",
      "divergedTitle": "损失或位置变成了 NaN 或 Inf，或离开了窗口",
      "leftWindow": "离开了窗口（该曲面有下界）",
      "nan": "损失或位置变成了 NaN",
      "infinite": "损失或位置变成了无穷大",
      "notArrived": {
        "one": "{steps} 步内未到达",
        "other": "{steps} 步内未到达"
      },
      "notArrivedTitle": "跑完了所有步，却没有稳定在容差范围内",
      "racing": "比赛中",
      "racingTitle": "在当前显示的步仍在途中（目前不在容差范围内）；结论在最后一步给出",
      "arrivedSoFarTitle": "从这一步到当前显示的步一直在容差范围内（目前为止）；结论在最后一步给出",
      "finished": {
        "one": "跑完 {steps} 步",
        "other": "跑完 {steps} 步"
      },
      "finishedTitle": "每一步都训练完了，没有发散（在自己的模型上比赛没有终点线：请看排名的各列）"
    },
    "error": {
      "races": "无法加载竞赛。{error}",
      "noSurfaceLogged": "这场竞赛没有记录曲面",
      "noSurface": "这场竞赛没有曲面摘要（{error}）；只显示路径。",
      "noTrajectory": "竞赛 {race} 中没有可读取的轨迹（{why}）。",
      "racerWhy": "{racer}：{error}",
      "noRows": "没有数据行"
    },
    "library": {
      "surface": {
        "saddle": {
          "title": "鞍点 x² − y²",
          "description": "课程笔记中的鞍点：没有极小值；到达 = 损失低于 -1（逃离了鞍点）"
        },
        "beale": {
          "title": "Beale 函数",
          "description": "平坦的高原与陡峭的山脊；极小值 0 位于 (3, 0.5)"
        },
        "rosenbrock": {
          "title": "Rosenbrock 函数",
          "description": "一条狭窄弯曲的山谷；极小值 0 位于 (1, 1)"
        },
        "rastrigin": {
          "title": "Rastrigin 函数",
          "description": "布满局部极小值的碗形曲面；全局极小值 0 位于 (0, 0)"
        },
        "himmelblau": {
          "title": "Himmelblau 函数",
          "description": "四个相等的极小值（均为 0）；参赛者到达哪一个取决于它的路径"
        },
        "quadratic": {
          "title": "病态二次函数",
          "description": "0.5 (u² + 50 v²)，(u, v) 为旋转 30° 的坐标轴：条件数 50；极小值 0 位于 (0, 0)"
        },
        "linear_regression": {
          "title": "线性回归 (k, b)",
          "description": "课程笔记中的第一个模型：在 y = 0.1x + 0.2 的 100 个随机点上拟合 y = kx + b 的均方误差，从 k = b = 0 出发；极小值 0 位于 (0.1, 0.2)"
        },
        "nn_plane": {
          "title": "神经网络（354 个权重的 MLP 的二维平面）",
          "description": "在双月数据上训练的 2-16-16-2 tanh MLP；地图是穿过初始权重的平面上的损失（按滤波器归一化的随机方向）；到达 = 训练损失低于 0.1"
        }
      },
      "optimizer": {
        "sgd": {
          "title": "SGD"
        },
        "momentum": {
          "title": "动量法"
        },
        "nag": {
          "title": "NAG（Nesterov 动量）"
        },
        "adagrad": {
          "title": "Adagrad"
        },
        "rmsprop": {
          "title": "RMSprop"
        },
        "adadelta": {
          "title": "Adadelta"
        },
        "adam": {
          "title": "Adam"
        },
        "adamax": {
          "title": "Adamax"
        },
        "nadam": {
          "title": "Nadam"
        },
        "adamw": {
          "title": "AdamW"
        },
        "lion": {
          "title": "Lion"
        },
        "ftrl": {
          "title": "Ftrl"
        }
      }
    }
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
      "errorsTitle": "只给非对角线单元格（即错误）着色",
      "perStep": "每步单独配色",
      "perStepTitle": "按每一步自己的最大计数缩放颜色（默认整个序列共用一个色标，同一种颜色在每一步代表同样的计数）"
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
      "compare": "B − A 的变化：{what}，单位为百分点{errors}",
      "scaleSeries": "（所有步共用一个色标）",
      "scaleStep": "（本步的色标）"
    },
    "compare": {
      "better": "B 更好（{run}）▶",
      "worse": "◀ B 更差（{run}）",
      "kind": {
        "same": "逐个位置对比：A 的每个位置与 {run} 的同一位置。",
        "shared": "对比所有位置合并的结果，以及两个运行中同名的 {shared} 个位置（A 有 {a} 个位置，B 有 {b} 个）。",
        "pooled": "只对比所有位置合并的结果：两个运行的位置不同（A 有 {a} 个位置，B 有 {b} 个）。"
      },
      "missing": {
        "one": "隐藏了 {n} 个图：{run} 没有位置 {names}。",
        "other": "隐藏了 {n} 个图：{run} 没有位置 {names}。"
      },
      "showMissing": "显示",
      "hideMissing": "隐藏"
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
      "change": "B − A",
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
      "change": "B − A",
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
      "noImages": "此单元格没有保存的图像。",
      "open": "按原始尺寸打开图像",
      "closeImage": "关闭图像",
      "ownSize": "原始尺寸",
      "enlarged": "放大 × {factor}",
      "size": "{width} × {height} 像素"
    },
    "error": {
      "runs": "无法加载运行列表。{error}",
      "series": "无法加载 {series}。{error}",
      "metrics": "无法加载指标。{error}",
      "images": "无法加载图像。{error}",
      "unreadable": "无法读取 {series}：{error}",
      "step": "无法加载这一步的矩阵。{error}"
    },
    "overview": {
      "keys": "混淆矩阵：滚轮或 + / − 缩放，拖动平移，按 0 显示整个矩阵；方向键在单元格之间移动，按 Enter 查看该单元格的图像"
    },
    "pager": {
      "prev": "上一页",
      "next": "下一页",
      "range": "第 {from}–{to} 个，共 {count} 个"
    },
    "find": {
      "label": "查找类别",
      "placeholder": "类别名称",
      "none": "没有与“{query}”匹配的类别。",
      "found": "{name}（第 {index} 类）"
    }
  }
};
