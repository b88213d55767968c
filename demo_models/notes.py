"""Lesson notes: what each demo's run teaches and where to look, in English and Chinese.

Every demo writes its note into its run as one text summary, `lesson/note` (TensorBoard's
Text tab), at the run's first step: the lesson's point, the source document it comes from,
and for each tab the tags to open and what to look for there, first in English, then in
Simplified Chinese. A note names tags only through its `Look` entries (rendered in
backticks), so a test can check that every tag a note tells the student to open exists in
the run that carries the note. The tour's closing table is built from the same entries, and
so is the guide a demo prints when it ends (`Note.closing`, in the language of its --lang).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

TAG = "lesson/note"
LANGUAGES = ("en", "zh")  # English, Simplified Chinese: every note is written in both

# the headings of a note, by language: the Text tab's markdown and the demos' closing guide
HEADS = {
    "en": {
        "teaches": "What it teaches",
        "where": "Where to look",
        "where_tb": "Where to look in TensorBoard",
        "source": "Source",
        "colon": ": ",
        "sep": ", ",
        "text_tab": "This note, in English and Chinese: the Text tab, tag {tag}.",
        "serve": "See the run: tensorboard --logdir {logdir}",
    },
    "zh": {
        "teaches": "本课要点",
        "where": "在哪里看",
        "where_tb": "在 TensorBoard 里看哪里",
        "source": "出处",
        "colon": "：",
        "sep": "、",
        "text_tab": "这份中英文课程笔记也在运行里：TensorBoard 的 Text 标签页，标签 {tag}。",
        "serve": "用这条命令查看运行结果：tensorboard --logdir {logdir}",
    },
}

# the five source documents of the course, cited by their titles: (English, Chinese)
SOURCES = {
    "overview": ("platform overview and captcha slides", "TensorFlow 平台概览与验证码识别讲义"),
    "basics": ("neural-network basics", "神经网络基础"),
    "framework": ("TensorFlow as a computation framework", "TensorFlow 计算框架"),
    "transfer": ("CNNs and transfer learning", "卷积神经网络与迁移学习"),
    "weekly": ("weekly course notes", "每周课程笔记"),
}


@dataclass(frozen=True)
class Look:
    """One place to look: a TensorBoard tab, the tags to open there, what to look for.

    `tags` are summary tags of the run (a tag ending in "/" names every tag under it); on
    the Graphs tab they are name scopes of the run's graph.
    """

    tab: str
    tags: tuple[str, ...]
    en: str
    zh: str

    def where(self, lang: str = "en", quote: str = "", tab_quote: str = "") -> str:
        """The tab and its tags ("Scalars train/k, train/b"), each tag inside `quote`."""
        tags = HEADS[lang]["sep"].join(f"{quote}{tag}{quote}" for tag in self.tags)
        return f"{tab_quote}{self.tab}{tab_quote} {tags}".rstrip()


@dataclass(frozen=True)
class Note:
    """A lesson's note: its title, source document, point and places to look."""

    title_en: str
    title_zh: str
    source: str  # a key of SOURCES
    en: str  # what the lesson teaches
    zh: str
    looks: tuple[Look, ...]

    def tags(self) -> dict[str, tuple[str, ...]]:
        """The tags this note tells the student to open, by tab."""
        found: dict[str, tuple[str, ...]] = {}
        for look in self.looks:
            found[look.tab] = found.get(look.tab, ()) + look.tags
        return found

    def guide(self) -> str:
        """One line for the tour's closing table: each tab with its tags."""
        return "; ".join(
            f"{tab} {', '.join(tags)}" if tags else tab for tab, tags in self.tags().items()
        )

    def markdown(self) -> str:
        """The note as the Text tab shows it: English, a rule, then Chinese."""
        parts = []
        doc = SOURCES[self.source]
        for index, lang in enumerate(LANGUAGES):
            head = HEADS[lang]
            colon = head["colon"].rstrip()  # "**Heading:** text" / "**标题：**正文"
            space = head["colon"][len(colon) :]
            lines = [
                f"### {self.title(lang)}",
                f"*{head['source']}{colon}{space}{doc[index]}*",
                "",
                f"**{head['teaches']}{colon}**{space}{getattr(self, lang)}",
                "",
                f"**{head['where']}{colon}**",
                "",
            ]
            for look in self.looks:
                where = look.where(lang, "`", "**")
                lines.append(f"* {where}{colon}{space}{getattr(look, lang)}")
            parts.append("\n".join(lines))
        return "\n\n---\n\n".join(parts)

    def title(self, lang: str) -> str:
        """The title in `lang` ("en" or "zh")."""
        return getattr(self, f"title_{_language(lang)}")

    def closing(self, lang: str, logdir: Any) -> str:
        """The guide a demo prints when it ends, in `lang`: what the lesson teaches, each
        tab with its tags and what to look for, and the command that shows `logdir`."""
        head = HEADS[_language(lang)]
        lines = [
            f"== {self.title(lang)} ==",
            f"{head['teaches']}{head['colon']}{getattr(self, lang)}",
            f"{head['where_tb']}{head['colon'].rstrip()}",
            *(f"  * {look.where(lang)}{head['colon']}{getattr(look, lang)}" for look in self.looks),
            head["text_tab"].format(tag=TAG),
            head["serve"].format(logdir=shlex.quote(str(logdir))),
        ]
        return "\n".join(lines)


def _language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return lang


def _classifier_looks(what_en: str, what_zh: str) -> tuple[Look, ...]:
    """The looks the MNIST classifiers share: the common accuracy chart and Confusion."""
    return (
        Look(
            "Scalars",
            ("test/accuracy", "train/accuracy", "train/loss"),
            "test/accuracy is the same tag in every lesson, so one chart compares the "
            "course's models (tick softmax, mlp, regularized and lenet5 in the run list); "
            + what_en,
            "每一课的测试准确率都叫 test/accuracy，所以一张图就能比较课程里的各个模型"
            f"（在运行列表里勾选 softmax、mlp、regularized 和 lenet5）；{what_zh}",
        ),
        Look(
            "Confusion",
            ("confusion/test",),
            "which digits the model still mixes up; click a cell to see those test images.",
            "模型还会把哪些数字混淆；点一个格子，就能看到对应的测试图片。",
        ),
    )


def _race_look(race: str, en: str, zh: str) -> tuple[Look, ...]:
    return (
        Look(
            "Optimizer Race",
            (),
            f"pick {race} and press Play: {en}",
            f"选择 {race} 这场比赛，按 Play：{zh}",
        ),
        Look(
            "Scalars",
            ("race/loss/",),
            "every racer's loss per step, one line each.",
            "每个优化器每一步的损失，一条曲线一个优化器。",
        ),
    )


def _notes() -> dict[str, Note]:
    from summaries.format import RACE_TAGS

    return {
        "linear": Note(
            "Linear regression: k and b by gradient descent",
            "线性回归：用梯度下降求 k 和 b",
            "weekly",
            "the course's first model. y = kx + b is fitted to 100 points of y = 0.1x + 0.2 by "
            "plain gradient descent (learning rate 0.2, 201 steps), from k = b = 0: the loss is "
            "the mean squared error, and each step moves k and b against its gradient.",
            "课程的第一个模型。用最朴素的梯度下降（学习率 0.2，201 步）把 y = kx + b 拟合到 100 个"
            "满足 y = 0.1x + 0.2 的点上，k 和 b 都从 0 开始：损失是均方误差，每一步都让 k 和 b "
            "沿梯度的反方向走一小步。",
            (
                Look(
                    "Scalars",
                    ("train/k", "train/b", "train/loss"),
                    "k and b come close to 0.1 and 0.2 within about ten steps, then creep the "
                    "last bit while the loss keeps falling by orders of magnitude (switch the "
                    "loss chart to a log scale).",
                    "大约十步之内 k 和 b 就接近 0.1 和 0.2，之后慢慢逼近最后一点差距，"
                    "损失则继续下降好几个数量级（把损失图的纵轴切换成对数刻度更清楚）。",
                ),
                Look(
                    "Images",
                    ("model/data_and_line",),
                    "the fitted line at a few steps: drag the step slider to watch it turn onto "
                    "the points.",
                    "几个步数上的拟合直线：拖动步数滑块，看它如何转到数据点上。",
                ),
                Look(
                    "Optimizer Race",
                    (RACE_TAGS["trajectory"],),
                    "race-linear_regression: this run's own (k, b) path, racer SGD (lesson), on "
                    "the loss surface beside the Keras optimizers of the race stop.",
                    "race-linear_regression：本次运行自己的 (k, b) 路径（SGD (lesson)），"
                    "和比赛那一站的 Keras 优化器画在同一张损失曲面上。",
                ),
            ),
        ),
        "nonlinear": Note(
            "Non-linear regression: a 1-10-1 tanh network",
            "非线性回归：1-10-1 的 tanh 网络",
            "weekly",
            "a straight line cannot fit y = x², a hidden layer can. A network with 10 tanh "
            "units learns the parabola from 200 noisy points by gradient descent (learning "
            "rate 0.1).",
            "直线拟合不了 y = x²，加一层隐藏层就可以。一个有 10 个 tanh 隐藏单元的网络用梯度下降"
            "（学习率 0.1）从 200 个带噪声的点里学出这条抛物线。",
            (
                Look(
                    "Images",
                    ("fit/data_and_model",),
                    "the model's curve bending from its random start into the parabola; drag the "
                    "step slider.",
                    "模型曲线从随机初始的形状慢慢弯成抛物线；拖动步数滑块观察。",
                ),
                Look(
                    "Scalars",
                    ("train/loss",),
                    "the mean squared error falling towards the noise level.",
                    "均方误差一路下降，直到接近噪声的水平。",
                ),
                Look(
                    "Histograms",
                    ("layer1/weights", "layer2/weights"),
                    "the weights moving away from their random start as the hidden units take "
                    "on parts of the curve.",
                    "权重离开随机初始值，各个隐藏单元分别负责曲线的一部分。",
                ),
            ),
        ),
        "softmax": Note(
            "MNIST softmax with name scopes",
            "带命名空间的 MNIST softmax 分类",
            "weekly",
            "one softmax layer on MNIST, built inside the lesson's name scopes, with "
            "variable_summaries on W and b: how TensorBoard shows a graph and what its "
            "variables do while they learn.",
            "在 MNIST 上训练一层 softmax，按课上的写法把各部分放进命名空间（name scope），并对 W "
            "和 b 调用 variable_summaries：学习 TensorBoard 怎样展示计算图，"
            "以及变量在训练中的变化。",
            (
                Look(
                    "Graphs",
                    ("input", "layer", "loss", "train", "accuracy"),
                    "the boxes are the lesson's name scopes; double-click layer to open weights, "
                    "biases, xw_plus_b and softmax.",
                    "图里的方框就是课上的命名空间；双击 layer，可以展开 weights、biases、"
                    "xw_plus_b 和 softmax。",
                ),
                Look(
                    "Scalars",
                    ("layer/weights/summaries/",),
                    "mean, stddev, max and min of W: the weights start at zero and spread out as "
                    "the classifier learns.",
                    "W 的均值、标准差、最大值和最小值：权重从 0 开始，随着训练逐渐散开。",
                ),
                *_classifier_looks(
                    "one linear layer already gets most test digits right.",
                    "仅仅一层线性模型就已经能认对大部分测试数字。",
                ),
            ),
        ),
        "mlp": Note(
            "A 500/100 network with Adam: the almost practical example",
            "500/100 两层隐藏层网络加 Adam：接近实用的例子",
            "framework",
            "everything together: MNIST through hidden layers of 500 and 100 ReLU units, cross "
            "entropy, Adam at 0.001, name scopes and merged scalar summaries. The lesson reports "
            "about 96 % test accuracy: not the best, but see how much you can see for little work.",
            "把前面学的都用上：MNIST 经过 500 和 100 个 ReLU 单元的两层隐藏层，交叉熵损失，学习率"
            " 0.001 的 Adam，命名空间和合并的标量摘要。课上报告的测试准确率约为 96%：不算最好，"
            "但花很少的功夫就能看到很多东西。",
            (
                *_classifier_looks(
                    "compare mlp with lenet5: the convolutional network should end higher.",
                    "把 mlp 和 lenet5 放在一起比：卷积网络应该更高。",
                ),
                Look(
                    "Histograms",
                    ("model/hidden1/weights",),
                    "the first hidden layer's 784 x 500 weights, most of the network.",
                    "第一隐藏层 784 x 500 的权重，占了网络的大部分参数。",
                ),
            ),
        ),
        "regularized": Note(
            "L2, a decaying learning rate and averaged weights",
            "L2 正则化、指数衰减学习率和滑动平均",
            "basics",
            "three improvements to a 500-unit network, the notes' MNIST best practice: an L2 "
            "penalty on the weights added to the loss, a learning rate that decays by 0.99 per "
            "epoch, and an exponential moving average of the weights (decay 0.99) that the "
            "evaluation uses instead of the raw weights.",
            "对 500 个隐藏单元的网络做三项改进（讲义中的 MNIST 最佳实践）：损失里加上权重的 L2 "
            "惩罚项；学习率每个 epoch 乘以 0.99 指数衰减；对权重做滑动平均（衰减率 0.99），"
            "测试时用平均后的权重而不是原始权重。",
            (
                Look(
                    "Scalars",
                    ("test/accuracy", "test/accuracy_raw_weights"),
                    "the averaged weights (test/accuracy, what the lesson evaluates) against the "
                    "raw ones on the same test images: the average is the steadier curve; where "
                    "a step of the raw weights dips, the average, which remembers many recent "
                    "steps, hardly moves.",
                    "同一批测试图片上，平均权重（test/accuracy，课上评估用的就是它）与原始权重的"
                    "对比：平均权重的曲线更平稳；原始权重某一步突然下降时，记住了最近许多步的"
                    "平均权重几乎不受影响。",
                ),
                Look(
                    "Scalars",
                    ("train/learning_rate", "train/l2", "train/cross_entropy"),
                    "the staircase decay of the learning rate, and the L2 penalty beside the "
                    "cross entropy it is added to.",
                    "学习率按台阶式衰减；L2 惩罚项和它所加到的交叉熵放在一起比较。",
                ),
                Look(
                    "Histograms",
                    ("layer1/weights", "layer1/weights_averaged"),
                    "the raw weights and their moving average.",
                    "原始权重和它的滑动平均。",
                ),
            ),
        ),
        "lenet5": Note(
            "LeNet-5: a convolutional network beats the fully connected one",
            "LeNet-5：卷积网络胜过全连接网络",
            "basics",
            "two convolution-pooling stages before two fully connected layers, dropout in "
            "training. A convolution shares its 5 x 5 weights across the whole image, so it "
            "learns strokes wherever they are, with far fewer weights than mlp. The tour trains "
            "it 300 steps of 50 at learning rate 0.1 (the lesson: 10,000 steps of 100 at 0.01) "
            "so that it finishes in seconds.",
            "两级“卷积-池化”之后接两层全连接，训练时使用 dropout。卷积核的 5 x 5 权重在整幅图上"
            "共享，不管笔画出现在哪里都能识别，参数也比 mlp 少得多。导览里以学习率 0.1、每批 50 "
            "张训练 300 步（课上是学习率 0.01、每批 100 张、10,000 步），几秒钟就能训练完。",
            (
                *_classifier_looks(
                    "lenet5 ends above mlp, as the lesson says a CNN should.",
                    "lenet5 最终高于 mlp，正如课上所说，卷积网络更适合图像。",
                ),
                Look(
                    "Images",
                    ("layer1-conv1/filters",),
                    "the 32 first-layer 5 x 5 filters; drag the step slider to see them change "
                    "from noise into stroke detectors.",
                    "第一层的 32 个 5 x 5 卷积核；拖动步数滑块，看它们从噪声变成笔画检测器。",
                ),
                Look(
                    "Graphs",
                    ("layer1-conv1", "layer2-pool1", "layer3-conv2", "layer4-pool2"),
                    "the lesson's layers, one box each, down to layer6-fc2.",
                    "课上的每一层各是一个方框，一直到 layer6-fc2。",
                ),
            ),
        ),
        "race:saddle": Note(
            "Optimizer race on the saddle point x² − y²",
            "鞍点 x² − y² 上的优化器比赛",
            "weekly",
            "every racer starts at (1, 0.001), just beside the saddle's ridge, where the slope "
            "across it is tiny. Plain gradient descent follows that tiny slope and creeps: in the "
            "tour's 1,000 steps it never gets away. Momentum gathers speed and escapes after a "
            "few hundred steps; the adaptive methods (Adagrad, Adadelta, RMSprop, Adam) scale the "
            "small gradient up and escape first. The tour races 1,000 steps (it raced 200, too "
            "few for momentum) so that all three behaviours are in the race. Leaving the window "
            "here is an escape, the lesson's goal, not a divergence.",
            "所有优化器都从 (1, 0.001) 出发，紧挨着鞍点的山脊，那里横向的坡度非常小。普通梯度下降"
            "只能顺着这点坡度慢慢挪：在导览的 1,000 步里始终没有逃出来。动量法会越走越快，几百步后"
            "逃离；自适应方法（Adagrad、Adadelta、RMSprop、Adam）会把很小的梯度放大，最先逃离。"
            "导览比赛 1,000 步（以前是 200 步，不够动量法逃出来），这样三种表现都能看到。"
            "在这里跑出窗口就是逃离了鞍点，正是本课想看到的，不算发散。",
            _race_look(
                "race-saddle",
                "the SGD marker stays near the start while the others leave the map; the "
                "leaderboard ranks by the step each one escaped.",
                "SGD 的标记一直停在起点附近，其他优化器都跑出了地图；排行榜按逃离的步数排名。",
            ),
        ),
        "race:beale": Note(
            "Optimizer race on Beale's function",
            "Beale 函数上的优化器比赛",
            "weekly",
            "the course notes compare the seven optimizers on a contour plot. Beale's function has "
            "flat plateaus and a long curved valley down to its minimum at (3, 0.5). The tour "
            "races 1,000 steps (at 200 no optimizer arrived): RMSprop, Adam, Adagrad, Momentum "
            "and NAG arrive, plain SGD and Adadelta do not. The methods take visibly different "
            "paths: momentum carries speed along the valley, the adaptive methods rescale each "
            "coordinate and cut a different route.",
            "课程笔记在等高线图上比较了七种优化器。Beale 函数有平坦的高原和一条弯曲的长山谷，"
            "最小值在 (3, 0.5)。导览比赛 1,000 步（只跑 200 步时没有一个到达）：RMSprop、Adam、"
            "Adagrad、Momentum 和 NAG 都能到达，普通 SGD 和 Adadelta 到不了。各方法走的路径明显"
            "不同：动量法沿着山谷带着速度前进，自适应方法对每个坐标分别缩放，走的是另一条路线。",
            _race_look(
                "race-beale",
                "the paths on the contour plot and who arrives first (the leaderboard's settled "
                "column).",
                "等高线图上的路径，以及谁先到达（排行榜的 settled 一栏）。",
            ),
        ),
        "race:linear_regression": Note(
            "Optimizer race on the linear-regression surface",
            "线性回归损失曲面上的优化器比赛",
            "weekly",
            "the linear-regression lesson's loss over (k, b): a smooth bowl. Plain gradient "
            "descent at 0.2 arrives first: momentum overshoots and the adaptive methods' "
            "per-coordinate scaling buys nothing on a bowl like this. The lesson's own gradient "
            "descent (racer SGD (lesson), written by flowscope demo linear) joins this race.",
            "线性回归那一课在 (k, b) 上的损失：一个光滑的碗。学习率 0.2 的普通梯度下降最先到达："
            "动量法会冲过头，自适应方法对每个坐标的缩放在这样的碗里没有好处。课上自己的梯度下降"
            "（flowscope demo linear 写入的 SGD (lesson)）也参加这场比赛。",
            _race_look(
                "race-linear_regression",
                "SGD settles first; momentum enters the target, overshoots out of it and "
                "settles only later.",
                "SGD 最先稳定到达；动量法先进入终点范围，又冲了出去，过一阵才稳定下来。",
            ),
        ),
        "race": Note(
            "Optimizer race",
            "优化器比赛",
            "weekly",
            "the course notes' seven optimizers (SGD, Momentum, NAG, Adagrad, RMSprop, Adadelta, "
            "Adam) raced from one start on one loss surface (Flowscope's default settings, or "
            "tuned ones with --tune); "
            "the leaderboard ranks them by the step at which they arrived and stayed.",
            "课程笔记里的七种优化器（SGD、Momentum、NAG、Adagrad、RMSprop、Adadelta、Adam）在同一"
            "个损失曲面上从同一个起点出发比赛（使用 Flowscope 的默认设置，或 --tune 调好的设置）；"
            "排行榜按到达并稳定下来的步数排名。",
            _race_look(
                "this race",
                "the paths on the map and the leaderboard.",
                "地图上的路径和排行榜。",
            ),
        ),
        "own_model": Note(
            "Race your own model: the optimizers on the MLP lesson's network",
            "用自己的模型比赛：在 MLP 一课的网络上比较优化器",
            "weekly",
            "the practical question, which optimizer for my network? SGD, Momentum, RMSprop and "
            "Adam each train the MLP lesson's 500/100 network from the same saved weights on the "
            "same batches: the command flowscope race --model model.keras --data data.npz, on "
            "the two files in this run's inputs folder. The map is the network's real loss on "
            "the plane of the racers' first two principal components; the caption under it says "
            "how much of their motion that plane explains. What moves off the plane is hidden: "
            "two paths that cross on the map need not meet.",
            "最实际的问题：我的网络该用哪种优化器？SGD、Momentum、RMSprop 和 Adam 从同一份保存的"
            "权重出发，在同样的批次上训练 MLP 一课的 500/100 网络：命令是 flowscope race --model "
            "model.keras --data data.npz，两个文件就在本次运行的 inputs 文件夹里。地图是网络在"
            "各优化器轨迹的前两个主成分所张成的平面上的真实损失；地图下方的说明写出这个平面解释了"
            "多少运动。离开平面的运动看不到：地图上相交的两条路径不一定真的相遇。",
            (
                *_race_look(
                    "own_model",
                    "each racer's weights projected on the plane, over the real loss; the "
                    "leaderboard ranks them by their best validation loss.",
                    "每个优化器的权重投影在平面上，背景是真实的损失；排行榜按最好的验证损失排名。",
                ),
                Look(
                    "Scalars",
                    ("race/val_loss/", "race/val_accuracy/"),
                    "the validation loss and accuracy at intervals, one line per optimizer.",
                    "每隔一段步数的验证损失和准确率，一条曲线一个优化器。",
                ),
                Look(
                    "HParams",
                    (),
                    "each optimizer's settings beside its final loss, best validation loss and "
                    "time per step.",
                    "每个优化器的设置，旁边是最终损失、最好的验证损失和每步用时。",
                ),
            ),
        ),
        "captcha": Note(
            "Captcha recognition: four digits, four heads",
            "验证码识别：四位数字，四个输出头",
            "overview",
            "a convolutional network reads 4-digit captchas with one softmax head per digit "
            "position (the course reports 0.9618 test accuracy). The tour trains a lighter, "
            "faster network (batch normalisation, images averaged down 2x) for 4 epochs of "
            "8,000 captchas, enough for at least 0.90 of the digits right.",
            "卷积网络识别 4 位数字验证码，每个数字位置一个 softmax 输出头（课上报告的测试准确率为 "
            "0.9618）。导览训练一个更轻、更快的网络（批归一化，图像先缩小一半），在 8,000 张"
            "验证码上训练 4 个 epoch，足以认对至少 90% 的数字。",
            (
                Look(
                    "Confusion",
                    ("confusion/test",),
                    "one 10 x 10 matrix per digit position, on held-out captchas; drag the slider "
                    "to replay training, and click a cell to see the captchas behind it: the last "
                    "errors gather on digits that look alike.",
                    "每个数字位置一个 10 x 10 混淆矩阵（在未参与训练的验证码上）；拖动滑块回放训练"
                    "过程，点一个格子就能看到对应的验证码：最后剩下的错误集中在长得像的数字上。",
                ),
                Look(
                    "Scalars",
                    ("test/accuracy", "test/sequence_accuracy", "test/loss"),
                    "accuracy per digit and per captcha (all four digits right), roughly the "
                    "per-digit accuracy to the fourth power.",
                    "按单个数字算的准确率和按整张验证码算的准确率（四位全对），后者大约是前者的四次方。",
                ),
            ),
        ),
        "multitask": Note(
            "TFRecord input and multi-task learning: joint vs alternate",
            "TFRecord 输入与多任务学习：联合训练与交替训练",
            "weekly",
            "the course's week 10. The captchas are written once as sharded TFRecord files and "
            "read by a tf.data pipeline (parallel interleave and decoding, shuffle, prefetch). "
            "The captcha reader is split into two similar tasks, as the notes ask: digits 1-2 and "
            "digits 3-4. With this split both runs share the trunk, the heads and the test "
            "captchas, and only the training differs: joint (one data set, the sum of the heads' "
            "losses) and alternate (each task its own half of the shards, one task per step). "
            "Measured (1,200 steps of 32, three seeds): joint 0.949 to 0.958 of the digits right, "
            "alternate 0.913 to 0.926; whole captchas 0.84 to 0.85 against 0.74 to 0.77. "
            "Alternate training loses at equal steps, because each of its steps teaches only half "
            "the heads; with as many updates per head (joint at half the steps) the two are about "
            "even. So on these tasks alternating only costs steps; it earns its keep when no "
            "example is labelled for every task, which joint training cannot use. The quick run "
            "(400 steps) shows the gap widest: 0.865 against 0.660. Reading the TFRecord files "
            "gave about 10,000 to 14,000 images/s, batches from memory 15 to 60 times more, and "
            "training used about 1,500: each step (about 22 ms) waited about 1 ms for data. "
            "TFRecord pays off when the data no longer fits in memory, not in speed.",
            "课程第十周。验证码只写一次，存成分片的 TFRecord 文件，再由 tf.data 输入管线读取（并行"
            "交错读取和解码、打乱、预取）。验证码识别器按笔记的要求拆成两个相似的任务：认第 1-2 位"
            "数字和认第 3-4 位数字。这样拆，两个运行共用同一个主干、同样的输出头和同样的测试验证码"
            "，只有训练方式不同：联合训练（一个数据集，各输出头的损失相加）和交替训练（每个任务用"
            "自己那一半分片，每一步只训练一个任务）。实测（每步 32 张、训练 1,200 步、三个随机种子"
            "）：联合训练认对 0.949 到 0.958 的数字，交替训练 0.913 到 0.926；整张验证码全对的比例"
            "分别是 0.84 到 0.85 和 0.74 到 0.77。步数相同时交替训练输了，因为它的每一步只教一半的"
            "输出头；如果让每个输出头得到同样多次更新（联合训练只用一半步数），两者差不多。所以在"
            "这两个任务上，交替训练只是多花步数；它的用处在于没有哪个样本同时带着所有任务的标签时"
            "，联合训练根本用不上这样的数据。快速模式（400 步）差距最大：0.865 对 0.660。"
            "从 TFRecord 文件读取每秒约 10,000 到 14,000 张，从内存取批次要快 15 到 60 倍，"
            "而训练每秒只用约 1,500 张：每一步约 22 毫秒，其中只有约 1 毫秒在等数据。"
            "TFRecord 的好处在于数据放不进内存时也能训练，而不在于更快。",
            (
                Look(
                    "Scalars",
                    ("test/accuracy/", "train/loss/"),
                    "tick both runs: per task, the joint run's accuracy against the alternate "
                    "run's at the same step; in the alternate run each task's loss moves only on "
                    "its own steps.",
                    "同时勾选两个运行：逐个任务比较同一步时联合训练和交替训练的准确率；交替训练里"
                    "每个任务的损失只在轮到它的那些步里下降。",
                ),
                Look(
                    "Scalars",
                    ("input/",),
                    "the input pipeline: images/s read from TFRecord against from memory, the "
                    "images/s training used, and how long each step waited for its batch.",
                    "输入管线：从 TFRecord 读取和从内存读取每秒各能给出多少张图片，训练实际每秒"
                    "用了多少张，以及每一步等了数据多久。",
                ),
                Look(
                    "Confusion",
                    ("confusion/test",),
                    "compare the two runs: which digit positions and pairs each still mixes up.",
                    "比较两个运行：各自在哪些数字位置、哪些数字对上还会混淆。",
                ),
                Look(
                    "Graphs",
                    ("trunk", "heads"),
                    "one training step: the shared trunk and the task heads; the joint run's "
                    "step has both tasks' heads, the alternate run's only one task's.",
                    "一个训练步的计算图：共享的主干和各任务的输出头；联合训练的一步包含两个任务的"
                    "输出头，交替训练的一步只有一个任务的。",
                ),
            ),
        ),
        "catsdogs": Note(
            "Cats vs dogs: the slides' CNN on photos",
            "猫狗分类：讲义中的卷积网络",
            "overview",
            "eight 3 x 3 convolutions, four poolings and three fully connected layers with "
            "dropout, trained with Adam on photos read from disk. Without --data it runs "
            "offline on crops of two sample photos (a temple and a flower), NOT cats and dogs.",
            "八个 3 x 3 卷积层、四个池化层和三个带 dropout 的全连接层，用 Adam 在从磁盘读取的照片上"
            "训练。不给 --data 时离线运行，用的是两张示例照片（寺庙和花）的裁剪块，不是猫和狗。",
            (
                Look(
                    "Confusion",
                    ("confusion",),
                    "the 2 x 2 matrix at each test; click an off-diagonal cell to see the photos "
                    "the model got wrong, the lesson's last slide.",
                    "每次测试的 2 x 2 矩阵；点非对角线上的格子，看模型分错的照片，"
                    "这正是讲义的最后一页。",
                ),
                Look(
                    "Scalars",
                    ("test/accuracy", "train/accuracy"),
                    "training accuracy climbing and test accuracy following it; the gap is "
                    "over-fitting.",
                    "训练准确率上升，测试准确率跟着上升；两者之间的差距就是过拟合。",
                ),
            ),
        ),
        "transfer": Note(
            "Transfer learning: a small head on bottleneck vectors",
            "迁移学习：在瓶颈向量上训练一个小输出层",
            "transfer",
            "reuse a trained network's convolution layers as a fixed feature extractor: run "
            "each image through them once to its bottleneck vector, cache it, and train only a "
            "small fully connected head; a few images per class suffice. Offline it is NOT "
            "Inception-V3: a small CNN trained on digits 0-4 is transferred to digits 5-9.",
            "把训练好的网络的卷积层当作固定的特征提取器：每张图片只过一次，得到瓶颈向量并缓存，"
            "只训练一个小的全连接输出层；每类几张图片就够了。离线时用的不是 Inception-V3："
            "而是在数字 0-4 上训练的小卷积网络，迁移到数字 5-9。",
            (
                Look(
                    "Projector",
                    (),
                    "pick bottlenecks and colour by class: the classes cluster before the head "
                    "has learnt anything.",
                    "选择 bottlenecks，按 class 着色：输出层还没学任何东西，各类就已经聚在一起了。",
                ),
                Look(
                    "Text",
                    ("about/comparison",),
                    "the lesson's table: with transfer, a few labelled images come close to "
                    "training the whole network on many.",
                    "课上的对比表：用了迁移学习，少量带标签的图片就接近用大量图片训练整个网络的效果。",
                ),
                Look(
                    "Scalars",
                    ("test/accuracy",),
                    "the head's test accuracy.",
                    "输出层的测试准确率。",
                ),
                Look(
                    "Confusion",
                    ("confusion/test",),
                    "click an off-diagonal cell to see the images.",
                    "点非对角线上的格子查看图片。",
                ),
            ),
        ),
        "distributed": Note(
            "Distributed training: parameter server and workers",
            "分布式训练：参数服务器和工作节点",
            "overview",
            "the platform overview's ps/worker architecture as real processes: a parameter "
            "server holds the variables, two workers compute gradients on their batches, and a "
            "coordinator hands out the steps. The network is the mlp lesson's.",
            "平台概览中的 ps/worker 架构，用真实的进程运行：参数服务器保存变量，两个工作节点各自在"
            "自己的批数据上计算梯度，协调者分派训练步。网络就是 mlp 那一课的网络。",
            (
                Look(
                    "Graphs",
                    ("train",),
                    "set Color to Device: the variables live on the ps, the computation on the "
                    "workers (with --strategy multiworker there is no ps: each worker keeps a "
                    "copy and they all-reduce their gradients).",
                    "把 Color 设为 Device：变量放在 ps 上，计算在 worker 上（用 --strategy "
                    "multiworker 时没有 ps：每个 worker 各存一份变量，梯度通过 all-reduce 汇总）。",
                ),
                Look(
                    "Scalars",
                    ("cluster/", "train/loss", "test/accuracy"),
                    "steps per second per worker, and the loss falling as in a single process.",
                    "每个工作节点每秒完成的步数，以及和单进程训练时一样下降的损失。",
                ),
            ),
        ),
    }


NAMES = (
    "linear",
    "nonlinear",
    "softmax",
    "mlp",
    "regularized",
    "lenet5",
    "race",
    "own_model",
    "captcha",
    "multitask",
    "catsdogs",
    "transfer",
    "distributed",
)


def note(name: str) -> Note:
    """The note of a lesson (`race:<surface>` for a race; other surfaces get "race")."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    notes = _notes()
    if name.startswith("race:") and name not in notes:
        name = "race"
    if name not in notes:
        raise ValueError(f"name must be one of {sorted(notes)}, got {name!r}")
    return notes[name]


def all_notes() -> dict[str, Note]:
    """Every note by name."""
    return _notes()


def write(name: str, step: int = 0, writer: Any = None) -> None:
    """Write a lesson's note (the Text tab) into `writer`, a `tf.summary` writer, else into
    the default one."""
    import tensorflow as tf

    if writer is None:
        tf.summary.text(TAG, note(name).markdown(), step=step)
        return
    with writer.as_default():
        tf.summary.text(TAG, note(name).markdown(), step=step)


def note_pb(name: str) -> Any:
    """A lesson's note as a Summary proto, for a `summaries.pb.LogWriter` (no TensorFlow)."""
    import numpy as np
    from tensorboard.plugins.text import metadata

    from summaries.protos import summary

    text = note(name).markdown()
    return summary(TAG, np.array(text.encode()), metadata.create_summary_metadata("", ""))
