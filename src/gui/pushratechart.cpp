#include "pushratechart.h"

#include "stallprobe.h"

#include <QDateTime>
#include <QEvent>
#include <QHelpEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace agmem {

namespace {

constexpr int PollIntervalMs = 5000;
// Past the minute boundary, so the new minute has begun when the timer fires.
constexpr int TickSlackMs = 20;

qint64 floorDiv(qint64 value, qint64 divisor)
{
    const qint64 q = value / divisor;
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? q - 1 : q;
}

QColor mix(const QColor &a, const QColor &b, qreal t)
{
    return QColor::fromRgbF(float(a.redF() + (b.redF() - a.redF()) * t),
                            float(a.greenF() + (b.greenF() - a.greenF()) * t),
                            float(a.blueF() + (b.blueF() - a.blueF()) * t));
}

QString minuteText(Instant instant)
{
    return QLocale().toString(QDateTime::fromMSecsSinceEpoch(instant / 1000).toLocalTime().time(),
                              QLocale::ShortFormat);
}

} // namespace

// ------------------------------------------------------------------------- PushRateSeries

PushRateSeries::PushRateSeries(Clock clock)
    : m_clock(std::move(clock))
{
    m_minute = floorDiv(now(), MinuteUs);
}

Instant PushRateSeries::now() const
{
    return m_clock ? m_clock() : nowInstant();
}

bool PushRateSeries::advance()
{
    const qint64 minute = floorDiv(now(), MinuteUs);
    // A clock set back keeps the window where it is.
    if (minute <= m_minute)
        return false;
    const qint64 shift = minute - m_minute;
    if (shift >= Minutes) {
        m_counts.fill(0);
    } else {
        std::rotate(m_counts.begin(), m_counts.begin() + shift, m_counts.end());
        std::fill(m_counts.end() - shift, m_counts.end(), 0);
    }
    m_minute = minute;
    return true;
}

void PushRateSeries::sample(qint64 totalPushes, const QString &databaseId)
{
    advance();
    if (m_hasBaseline && databaseId == m_databaseId && totalPushes > m_last)
        m_counts.back() += totalPushes - m_last;
    m_last = totalPushes;
    m_databaseId = databaseId;
    m_hasBaseline = true;
}

void PushRateSeries::seed(const QList<Store::MinuteCount> &minutes, Instant knownFrom)
{
    advance();
    m_knownFrom = knownFrom;
    for (const Store::MinuteCount &m : minutes) {
        const qint64 slot = floorDiv(m.minute, MinuteUs) - (m_minute - (Minutes - 1));
        if (slot >= 0 && slot < Minutes)
            m_counts.at(size_t(slot)) = std::max<qint64>(m.pushes, 0);
    }
}

qint64 PushRateSeries::total() const
{
    return std::accumulate(m_counts.cbegin(), m_counts.cend(), qint64(0));
}

qint64 PushRateSeries::peak() const
{
    return *std::max_element(m_counts.cbegin(), m_counts.cend());
}

// -------------------------------------------------------------------------- PushRateChart

PushRateChart::PushRateChart(QWidget *parent)
    : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &PushRateChart::onTick);
    armTimer();
    changed();
}

void PushRateChart::setClock(PushRateSeries::Clock clock)
{
    m_series = PushRateSeries(std::move(clock));
    m_seeded = false;
    changed();
}

void PushRateChart::setPolling(bool on)
{
    m_polling = on;
    armTimer();
}

void PushRateChart::armTimer()
{
    const qint64 nowMs = m_series.now() / 1000;
    const qint64 minuteMs = PushRateSeries::MinuteUs / 1000;
    qint64 wait = minuteMs - (nowMs % minuteMs) + TickSlackMs;
    if (m_polling)
        wait = std::min<qint64>(wait, PollIntervalMs);
    m_timer.start(int(std::clamp<qint64>(wait, 1, minuteMs + TickSlackMs)));
}

void PushRateChart::onTick()
{
    if (m_series.advance())
        changed();
    armTimer();
    Q_EMIT refreshDue();
}

Instant PushRateChart::seedSince() const
{
    if (m_seeded)
        return 0;
    PushRateSeries series = m_series;
    series.advance();
    return series.windowStart();
}

void PushRateChart::feed(const StoreState &state, const std::optional<Store::PushMinutes> &minutes)
{
    if (!m_seeded && minutes) {
        // The history read at start is bounded (MaxSeedRows, ~0.2 s on SQLite, on the
        // reader's thread): an hour with more pushes shows its oldest minutes as not read.
        const StallProbe::Scope probe("chart seed");
        m_seeded = true;
        m_series.advance();
        const Instant current = m_series.minuteStart(PushRateSeries::Minutes - 1);
        const Instant knownFrom = minutes->complete ? 0
                                  : minutes->minutes.isEmpty()
                                      ? current
                                      : minutes->minutes.constFirst().minute;
        m_series.seed(minutes->minutes, knownFrom);
    }
    // The state was read after the history, in the same snapshot: pushes count once.
    m_series.sample(state.totalPushes, state.databaseId);
    changed();
}

void PushRateChart::changed()
{
    const QLocale locale;
    const QString name =
        tr("Pushes per minute, last hour: total %1, peak %2")
            .arg(locale.toString(m_series.total()), locale.toString(m_series.peak()));
    if (accessibleName() != name)
        setAccessibleName(name);
    const QString description =
        tr("This minute: %1. Scale: 0 to %2 pushes per minute; bars from 60 minutes ago to now.")
            .arg(locale.toString(m_series.current()),
                 locale.toString(niceCeiling(m_series.peak())));
    if (accessibleDescription() != description)
        setAccessibleDescription(description);
    update();
}

QString PushRateChart::caption() const
{
    const QLocale locale;
    return tr("This minute: %1 · Last hour: %2")
        .arg(locale.toString(m_series.current()), locale.toString(m_series.total()));
}

qint64 PushRateChart::niceCeiling(qint64 peak)
{
    if (peak <= 1)
        return 1;
    qint64 magnitude = 1;
    while (true) {
        for (const qint64 step : {1, 2, 5}) {
            if (step * magnitude >= peak)
                return step * magnitude;
        }
        if (magnitude > std::numeric_limits<qint64>::max() / 100)
            return peak;
        magnitude *= 10;
    }
}

PushRateChart::Layout PushRateChart::layout() const
{
    const QFontMetrics fm = fontMetrics();
    const int lineHeight = fm.height();
    const int pad = std::max(2, lineHeight / 3);
    const QString top = QLocale().toString(niceCeiling(m_series.peak()));
    Layout l;
    l.labelWidth = std::max(fm.horizontalAdvance(top), fm.horizontalAdvance(QLocale().toString(0)));
    const QRectF inner = QRectF(rect()).adjusted(pad, pad / 2.0, -pad, -pad / 2.0);
    l.caption = QRectF(inner.left(), inner.top(), inner.width(), lineHeight);
    const qreal left = inner.left() + l.labelWidth + pad;
    const qreal plotTop = l.caption.bottom() + pad;
    const qreal axisTop = inner.bottom() - lineHeight;
    l.plot = QRectF(left, plotTop, std::max<qreal>(0, inner.right() - left),
                    std::max<qreal>(0, axisTop - pad / 2.0 - plotTop));
    l.axis = QRectF(left, axisTop, l.plot.width(), lineHeight);
    return l;
}

QSize PushRateChart::sizeHint() const
{
    const QFontMetrics fm = fontMetrics();
    const int lineHeight = fm.height();
    const int pad = std::max(2, lineHeight / 3);
    // Caption, bars four lines tall, the axis labels.
    const int height = pad + lineHeight + pad + 4 * lineHeight + pad / 2 + lineHeight + pad;
    return {fm.averageCharWidth() * 80, height};
}

QSize PushRateChart::minimumSizeHint() const
{
    return {fontMetrics().averageCharWidth() * 30, sizeHint().height()};
}

QPair<qreal, qreal> PushRateChart::slotEdges(const QRectF &plot, int slot) const
{
    const qreal dpr = devicePixelRatioF();
    const auto snap = [dpr](qreal v) { return std::round(v * dpr) / dpr; };
    const qreal width = plot.width() / PushRateSeries::Minutes;
    return {snap(plot.left() + slot * width), snap(plot.left() + (slot + 1) * width)};
}

int PushRateChart::slotAt(const QPoint &pos) const
{
    const Layout l = layout();
    if (l.plot.width() <= 0 || pos.x() < l.plot.left() || pos.x() >= l.plot.right() ||
        pos.y() < l.plot.top() || pos.y() > l.axis.bottom())
        return -1;
    const int slot = int((pos.x() - l.plot.left()) * PushRateSeries::Minutes / l.plot.width());
    return std::clamp(slot, 0, PushRateSeries::Minutes - 1);
}

QString PushRateChart::toolTipFor(int slot) const
{
    if (slot < 0 || slot >= PushRateSeries::Minutes)
        return {};
    const Instant start = m_series.minuteStart(slot);
    const QString from = minuteText(start);
    const QString to = minuteText(start + PushRateSeries::MinuteUs);
    if (!m_series.known(slot))
        return tr("%1–%2\nNot read: too many pushes in the history to read at start").arg(from, to);
    // Labels before the numbers: no plural forms needed.
    const QString count = QLocale().toString(m_series.count(slot));
    if (slot == PushRateSeries::Minutes - 1)
        return tr("This minute, %1–%2\nPushes so far: %3").arg(from, to, count);
    return tr("%1–%2\nPushes: %3").arg(from, to, count);
}

bool PushRateChart::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        auto *help = static_cast<QHelpEvent *>(event);
        const int slot = slotAt(help->pos());
        if (slot < 0) {
            QToolTip::hideText();
            event->ignore();
        } else {
            QToolTip::showText(help->globalPos(), toolTipFor(slot), this);
        }
        return true;
    }
    return QWidget::event(event);
}

void PushRateChart::mouseMoveEvent(QMouseEvent *event)
{
    const int slot = slotAt(event->position().toPoint());
    if (slot != m_hovered) {
        m_hovered = slot;
        update();
        // The tooltip follows from bar to bar.
        if (slot >= 0 && QToolTip::isVisible())
            QToolTip::showText(event->globalPosition().toPoint(), toolTipFor(slot), this);
    }
    QWidget::mouseMoveEvent(event);
}

void PushRateChart::leaveEvent(QEvent *event)
{
    m_hovered = -1;
    update();
    QWidget::leaveEvent(event);
}

void PushRateChart::changeEvent(QEvent *event)
{
    switch (event->type()) {
    case QEvent::FontChange:
    case QEvent::StyleChange:
        updateGeometry();
        update();
        break;
    case QEvent::LanguageChange:
    case QEvent::LocaleChange:
        changed();
        break;
    case QEvent::PaletteChange:
        update();
        break;
    default:
        break;
    }
    QWidget::changeEvent(event);
}

void PushRateChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    const QPalette &pal = palette();
    const QColor base = pal.color(QPalette::Base);
    const QColor text = pal.color(QPalette::Text);
    const QColor muted = mix(text, base, 0.45);
    const QColor grid = mix(text, base, 0.8);
    const QColor bar = pal.color(QPalette::Highlight);
    const QColor pastBar = mix(bar, base, 0.35);
    const QColor hoverBar = mix(bar, text, 0.35);

    // A panel like the views below it: base color, a one-pixel frame.
    p.fillRect(rect(), base);
    p.fillRect(QRectF(0, 0, width(), 1), pal.color(QPalette::Mid));
    p.fillRect(QRectF(0, height() - 1, width(), 1), pal.color(QPalette::Mid));
    p.fillRect(QRectF(0, 0, 1, height()), pal.color(QPalette::Mid));
    p.fillRect(QRectF(width() - 1, 0, 1, height()), pal.color(QPalette::Mid));

    const Layout l = layout();
    const QFontMetrics fm = fontMetrics();
    const QLocale locale;

    // Caption: the title on the left (elided first), the numbers on the right.
    const QString numbers = caption();
    const int numbersWidth = fm.horizontalAdvance(numbers);
    p.setPen(text);
    p.drawText(l.caption, Qt::AlignRight | Qt::AlignVCenter, numbers);
    {
        QFont bold = font();
        bold.setBold(true);
        p.setFont(bold);
        const QFontMetrics bfm(bold);
        const qreal room = l.caption.width() - numbersWidth - fm.averageCharWidth() * 2;
        const QString title =
            bfm.elidedText(tr("Pushes per minute"), Qt::ElideRight, int(std::max<qreal>(0, room)));
        p.drawText(l.caption, Qt::AlignLeft | Qt::AlignVCenter, title);
        p.setFont(font());
    }
    if (l.plot.height() < 2 || l.plot.width() < PushRateSeries::Minutes)
        return;

    // The scale: its top and zero, lines across the plot.
    const qint64 scale = niceCeiling(m_series.peak());
    const qreal labelLeft = l.plot.left() - fm.averageCharWidth() / 2.0 - l.labelWidth;
    p.setPen(muted);
    p.drawText(QRectF(labelLeft, l.plot.top(), l.labelWidth, fm.height()),
               Qt::AlignRight | Qt::AlignTop, locale.toString(scale));
    p.drawText(QRectF(labelLeft, l.plot.bottom() - fm.height(), l.labelWidth, fm.height()),
               Qt::AlignRight | Qt::AlignBottom, locale.toString(0));
    p.fillRect(QRectF(l.plot.left(), l.plot.top(), l.plot.width(), 1), grid);
    p.fillRect(QRectF(l.plot.left(), std::round(l.plot.center().y()), l.plot.width(), 1), grid);

    // The bars, on device pixels (crisp at any scale factor).
    const qreal dpr = devicePixelRatioF();
    const auto snap = [dpr](qreal v) { return std::round(v * dpr) / dpr; };
    const qreal bottom = l.plot.bottom();
    for (int slot = 0; slot < PushRateSeries::Minutes; ++slot) {
        const qint64 count = m_series.count(slot);
        if (count <= 0)
            continue;
        const auto [x0, x1] = slotEdges(l.plot, slot);
        const qreal gap = x1 - x0 >= 4 ? 1 : 0;
        const qreal height =
            std::max(1.0 / dpr, snap(l.plot.height() * qreal(count) / qreal(scale)));
        const QColor color = slot == m_hovered                     ? hoverBar
                             : slot == PushRateSeries::Minutes - 1 ? bar
                                                                   : pastBar;
        p.fillRect(QRectF(x0, bottom - height, std::max(1.0 / dpr, x1 - x0 - gap), height), color);
    }
    // Minutes not read at start: hatched, not shown as idle.
    for (int slot = 0; slot < PushRateSeries::Minutes && !m_series.known(slot); ++slot) {
        const auto [x0, x1] = slotEdges(l.plot, slot);
        p.fillRect(QRectF(x0, l.plot.top(), x1 - x0, l.plot.height()),
                   QBrush(grid, Qt::BDiagPattern));
    }
    if (m_hovered >= 0 && m_series.count(m_hovered) == 0) {
        const auto [x0, x1] = slotEdges(l.plot, m_hovered);
        p.fillRect(QRectF(x0, l.plot.top(), x1 - x0, l.plot.height()), mix(base, text, 0.08));
    }
    p.fillRect(QRectF(l.plot.left(), bottom - 1, l.plot.width(), 1), muted);

    if (m_series.total() == 0) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(l.plot, Qt::AlignCenter, tr("No pushes in the last hour"));
    }

    // The time axis: an hour ago, half an hour ago, now.
    p.setPen(muted);
    p.drawText(l.axis, Qt::AlignLeft | Qt::AlignVCenter, tr("−%1 min").arg(60));
    p.drawText(l.axis, Qt::AlignHCenter | Qt::AlignVCenter, tr("−%1 min").arg(30));
    p.drawText(l.axis, Qt::AlignRight | Qt::AlignVCenter, tr("now"));
}

} // namespace agmem
