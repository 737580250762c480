#include "timestamp.h"

#include <QDateTime>
#include <QVarLengthArray>

#include <cstring>

#include <cstddef>

// The reference coordinator ran CPython 3.11, whose datetime.fromisoformat() is the C
// implementation in Modules/_datetimemodule.c, not the pure-Python fallback in datetime.py.
// The two disagree on corner cases, and the C one is what clients were actually checked
// against, so the parser below mirrors the C code step by step, quirks included:
//
//  * The string is first converted to UTF-8 and parsed byte by byte; lengths and
//    positions are byte counts. Non-ASCII characters therefore take 2-4 positions.
//  * The separator is any one character (one code point, skipped as a whole).
//  * A lone surrogate is allowed only as the separator (at code point 7, 8 or 10, where it
//    becomes 'T'); anywhere else the UTF-8 conversion fails and the string is rejected.
//  * After the HH, HHMM or HHMMSS digits (basic format) further digits are read as a
//    fraction without a decimal mark ("123456789" is 12:34:56.789), and "HH:MM:SS:fff" is
//    read as a fraction too; "HH:" and "HH:MM:SS." are complete times when an offset
//    follows.
//  * When a fraction has more than six digits, whatever follows the digits is not looked
//    at if an offset comes later ("...00.1234567x+05:00" is accepted), and a NUL
//    character after them ends the string ("...00.1234567\0junk" is accepted).
//  * Offset minutes and seconds are not range-checked ("+05:99" is 5h99m); only the
//    total must be strictly within +-24h. An offset of zero whole seconds is UTC even if
//    it has a fraction ("+00:00:00.5" is UTC).
//  * Year 0 is rejected (a datetime cannot hold it), also as an ISO week-date year.
//  * Unlike CPython, a timestamp whose UTC instant leaves years 1..9999 is rejected
//    ("0001-01-01T00:00:00+01:00"): the coordinator stores the UTC instant, and Python
//    clients could not read it back.
//
// All of these were checked against CPython 3.11.7 (including a randomized comparison).
// The only pre-processing the reference did is str.replace("Z", "+00:00"), on every 'Z'.

namespace agmem {

namespace {

constexpr qint64 MicrosPerSecond = 1'000'000;
constexpr qint64 SecondsPerDay = 86'400;
constexpr qint64 MicrosPerDay = SecondsPerDay * MicrosPerSecond;

// Days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar (H. Hinnant's
// days_from_civil). Valid for any year in int range.
constexpr qint64 daysFromCivil(int year, int month, int day)
{
    const qint64 y = qint64(year) - (month <= 2 ? 1 : 0);
    const qint64 era = (y >= 0 ? y : y - 399) / 400;
    const qint64 yearOfEra = y - era * 400;
    const qint64 dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const qint64 dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
    return era * 146097 + dayOfEra - 719468;
}

struct CivilDate
{
    qint64 year;
    int month;
    int day;
};

// The inverse of daysFromCivil (H. Hinnant's civil_from_days).
constexpr CivilDate civilFromDays(qint64 days)
{
    days += 719468;
    const qint64 era = (days >= 0 ? days : days - 146096) / 146097;
    const qint64 dayOfEra = days - era * 146097;
    const qint64 yearOfEra =
        (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
    const qint64 dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    const qint64 mp = (5 * dayOfYear + 2) / 153;
    const int day = int(dayOfYear - (153 * mp + 2) / 5 + 1);
    const int month = int(mp < 10 ? mp + 3 : mp - 9);
    return {yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

constexpr bool isLeapYear(int year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

constexpr int daysInMonth(int year, int month)
{
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && isLeapYear(year) ? 29 : days[month - 1];
}

// 0 = Monday ... 6 = Sunday; 1970-01-01 was a Thursday.
constexpr int weekdayFromDays(qint64 days)
{
    const qint64 r = (days + 3) % 7;
    return int(r < 0 ? r + 7 : r);
}

constexpr qint64 MinDays = daysFromCivil(1, 1, 1);
constexpr qint64 MaxDays = daysFromCivil(9999, 12, 31);

static_assert(daysFromCivil(1970, 1, 1) == 0);
static_assert(daysFromCivil(2000, 3, 1) == 11017);
static_assert(MinDays == -719162);
static_assert(civilFromDays(MaxDays).year == 9999);
static_assert(weekdayFromDays(MinDays) == 0); // 0001-01-01 was a Monday

// The UTF-8 bytes CPython parses, NUL-terminated like PyUnicode_AsUTF8AndSize's result.
// Only ASCII bytes can ever match, so a non-ASCII character is stored as a lead byte that
// tells its UTF-8 length (all the parser looks at) followed by continuation bytes.
using Utf8Buffer = QVarLengthArray<char, 64>;

// str.replace("Z", "+00:00"), then _sanitize_isoformat_str() and the UTF-8 conversion.
// `text`: UTF-16 (QStringView) or Latin-1 (QLatin1String, whose characters are code points
// below 0x100: the same branches decide them).
template <typename Text>
bool toPythonUtf8(Text text, Utf8Buffer &out)
{
    out.reserve(text.size() + 8);
    qsizetype codePoint = 0; // index in the replaced Python string
    const qsizetype size = text.size();
    for (qsizetype i = 0; i < size; ++i, ++codePoint) {
        const char16_t c = text[i].unicode();
        if (c == u'Z') {
            out.append("+00:00", 6);
            codePoint += 5;
        } else if (c < 0x80) {
            out.append(char(c));
        } else if (c < 0x800) {
            out.append(char(0xC0));
            out.append(char(0x80));
        } else if (QChar::isHighSurrogate(c) && i + 1 < size &&
                   QChar::isLowSurrogate(text[i + 1].unicode())) {
            ++i; // a valid pair is one code point outside the BMP: four UTF-8 bytes
            out.append(char(0xF0));
            out.append(char(0x80));
            out.append(char(0x80));
            out.append(char(0x80));
        } else if (QChar::isSurrogate(c)) {
            // A lone surrogate cannot be encoded, unless sanitizing turned it into 'T':
            // that happens to the first surrogate at code point 7, 8 or 10, and since any
            // earlier surrogate already failed, the first one seen is the one replaced.
            if (codePoint != 7 && codePoint != 8 && codePoint != 10)
                return false;
            out.append('T');
        } else {
            out.append(char(0xE0));
            out.append(char(0x80));
            out.append(char(0x80));
        }
    }
    if (codePoint < 7) // "All valid ISO 8601 strings are at least 7 characters long"
        return false;
    out.append('\0');
    return true;
}

// The same for Latin-1 text that is all ASCII (a request body's timestamp, nearly always):
// written straight into the buffer instead of a character at a time.
bool toPythonUtf8(QLatin1String text, Utf8Buffer &out)
{
    const char *const data = text.data();
    const qsizetype size = text.size();
    qsizetype zs = 0;
    for (qsizetype i = 0; i < size; ++i) {
        const char c = data[i];
        if (static_cast<unsigned char>(c) >= 0x80)
            return toPythonUtf8<QLatin1String>(text, out); // not ASCII: character by character
        zs += c == 'Z';
    }
    if (size + 5 * zs < 7) // as below: too short once the Zs are replaced
        return false;
    out.resize(size + 5 * zs + 1);
    char *to = out.data();
    for (qsizetype i = 0; i < size; ++i) {
        if (data[i] == 'Z') {
            std::memcpy(to, "+00:00", 6);
            to += 6;
        } else {
            *to++ = data[i];
        }
    }
    *to = '\0';
    return true;
}

// The functions below follow Modules/_datetimemodule.c (3.11) closely, including reads of
// the terminating NUL, so that every quirk carries over.

constexpr bool isDigit(char c)
{
    return static_cast<unsigned int>(c - '0') < 10;
}

const char *parseDigits(const char *p, int *value, std::size_t count)
{
    for (std::size_t i = 0; i < count; ++i) {
        const auto digit = static_cast<unsigned int>(*(p++) - '0');
        if (digit > 9)
            return nullptr;
        *value = *value * 10 + int(digit);
    }
    return p;
}

qsizetype findSeparator(const char *s, qsizetype len)
{
    if (len == 7)
        return 7;
    if (s[4] == '-') {
        if (s[5] == 'W') {
            if (len < 8)
                return -1;
            if (len > 8 && s[8] == '-') {
                // YYYY-Www-D (10) or YYYY-Www-HH... with '-' as the separator (8)
                if (len == 9)
                    return -1;
                if (len > 10 && isDigit(s[10]))
                    return 8;
                return 10;
            }
            return 8; // YYYY-Www
        }
        return 10; // YYYY-MM-DD
    }
    if (s[4] == 'W') {
        // YYYYWww (7) or YYYYWwwD (8), told apart by the parity of the digit run
        qsizetype idx = 7;
        while (idx < len && isDigit(s[idx]))
            ++idx;
        if (idx < 9)
            return idx;
        return idx % 2 == 0 ? 7 : 8;
    }
    return 8; // YYYYMMDD
}

// Days since the epoch of ISO year/week/day, or nullopt (iso_to_ymd()).
std::optional<qint64> isoWeekToDays(int year, int week, int day)
{
    if (year < 1) // CPython computes garbage here and then rejects the result
        return std::nullopt;
    const qint64 jan1 = daysFromCivil(year, 1, 1);
    const int jan1Weekday = weekdayFromDays(jan1);
    if (week <= 0 || week >= 53) {
        // Years starting on a Thursday, and leap years starting on a Wednesday, have 53.
        const bool has53 = jan1Weekday == 3 || (jan1Weekday == 2 && isLeapYear(year));
        if (week != 53 || !has53)
            return std::nullopt;
    }
    if (day <= 0 || day >= 8)
        return std::nullopt;
    qint64 week1Monday = jan1 - jan1Weekday;
    if (jan1Weekday > 3)
        week1Monday += 7;
    return week1Monday + (week - 1) * 7 + (day - 1);
}

struct ParsedDate
{
    // Either a calendar date (days unset) or a week date already resolved to days.
    int year = 0;
    int month = 0;
    int day = 0;
    std::optional<qint64> weekDays;
};

bool parseDate(const char *s, std::size_t len, ParsedDate *date)
{
    const char *p = parseDigits(s, &date->year, 4);
    if (!p)
        return false;
    const bool usesSeparator = *p == '-';
    if (usesSeparator)
        ++p;
    if (*p == 'W') {
        ++p;
        int week = 0;
        int weekday = 0;
        p = parseDigits(p, &week, 2);
        if (!p)
            return false;
        if (static_cast<std::size_t>(p - s) < len) {
            if (usesSeparator && *(p++) != '-')
                return false;
            p = parseDigits(p, &weekday, 1);
            if (!p)
                return false;
        } else {
            weekday = 1;
        }
        date->weekDays = isoWeekToDays(date->year, week, weekday);
        return date->weekDays.has_value();
    }
    p = parseDigits(p, &date->month, 2);
    if (!p)
        return false;
    if (usesSeparator && *(p++) != '-')
        return false;
    return parseDigits(p, &date->day, 2) != nullptr;
}

struct Clock
{
    int hour = 0;
    int minute = 0;
    int second = 0;
    int microsecond = 0;
};

// parse_hh_mm_ss_ff(): -1 on error, 0 when the string ends after the time, 1 when
// something else follows it.
int parseClock(const char *p, const char *end, Clock *clock)
{
    *clock = {};
    int *const values[3] = {&clock->hour, &clock->minute, &clock->second};
    bool hasSeparator = true;
    for (int i = 0; i < 3; ++i) {
        p = parseDigits(p, values[i], 2);
        if (!p)
            return -1;
        const char c = *(p++);
        if (i == 0)
            hasSeparator = c == ':';
        if (p >= end)
            return c != '\0' ? 1 : 0;
        if (hasSeparator && c == ':')
            continue;
        if (c == '.' || c == ',')
            break;
        if (hasSeparator)
            return -1;
        --p;
    }

    const auto remaining = static_cast<std::size_t>(end - p);
    const std::size_t count = remaining >= 6 ? 6 : remaining;
    p = parseDigits(p, &clock->microsecond, count);
    if (!p)
        return -1;
    static constexpr int correction[] = {100000, 10000, 1000, 100, 10};
    if (count < 6)
        clock->microsecond *= correction[count - 1];
    while (isDigit(*p))
        ++p; // digits beyond microseconds are dropped
    return *p != '\0' ? 1 : 0;
}

struct ParsedTime
{
    Clock clock;
    bool hasOffset = false;
    int offsetSeconds = 0;
    int offsetMicroseconds = 0;
};

// parse_isoformat_time(). 'Z' cannot occur: the caller replaced it beforehand.
bool parseTime(const char *s, std::size_t len, ParsedTime *time)
{
    const char *const end = s + len;
    const char *tz = s;
    do {
        if (*tz == '+' || *tz == '-')
            break;
    } while (++tz < end);

    const int rv = parseClock(s, tz, &time->clock);
    if (rv < 0)
        return false;
    if (tz == end)
        return rv == 0;

    const int sign = *tz == '-' ? -1 : 1;
    Clock offset;
    if (parseClock(tz + 1, end, &offset) != 0)
        return false;
    time->hasOffset = true;
    time->offsetSeconds = sign * (offset.hour * 3600 + offset.minute * 60 + offset.second);
    time->offsetMicroseconds = sign * offset.microsecond;
    return true;
}

} // namespace

namespace {

template <typename Text>
std::optional<Instant> parseIso(Text text)
{
    // Fast path: fewer than 7 characters can never make a date, even after 'Z' expands.
    if (text.size() < 7)
        return std::nullopt;
    Utf8Buffer buffer;
    if (!toPythonUtf8(text, buffer))
        return std::nullopt;
    const char *const s = buffer.constData();
    const qsizetype len = buffer.size() - 1; // without the NUL

    // A negative separator location (-1) is passed on as a huge size_t, like CPython does;
    // the date parser then stops at the NUL and fails.
    const qsizetype separator = findSeparator(s, len);
    ParsedDate date;
    if (!parseDate(s, static_cast<std::size_t>(separator), &date))
        return std::nullopt;

    ParsedTime time;
    if (len > separator) {
        // Skip the separator: one character, however many UTF-8 bytes it takes.
        const char *p = s + separator;
        const auto lead = static_cast<unsigned char>(*p);
        if ((lead & 0x80) == 0)
            p += 1;
        else if ((lead & 0xF0) == 0xE0)
            p += 3;
        else if ((lead & 0xF0) == 0xF0)
            p += 4;
        else
            p += 2;
        if (!parseTime(p, static_cast<std::size_t>(len - (p - s)), &time))
            return std::nullopt;
    }

    // The datetime constructor's range checks.
    qint64 days = 0;
    if (date.weekDays) {
        days = *date.weekDays;
        if (days < MinDays || days > MaxDays)
            return std::nullopt;
    } else {
        if (date.year < 1 || date.year > 9999 || date.month < 1 || date.month > 12 ||
            date.day < 1 || date.day > daysInMonth(date.year, date.month))
            return std::nullopt;
        days = daysFromCivil(date.year, date.month, date.day);
    }
    const Clock &clock = time.clock;
    if (clock.hour > 23 || clock.minute > 59 || clock.second > 59)
        return std::nullopt;

    Instant instant =
        days * MicrosPerDay +
        (qint64(clock.hour) * 3600 + clock.minute * 60 + clock.second) * MicrosPerSecond +
        clock.microsecond;

    // timezone(timedelta(seconds=..., microseconds=...)); zero whole seconds means UTC.
    if (time.hasOffset && time.offsetSeconds != 0) {
        const qint64 offset =
            qint64(time.offsetSeconds) * MicrosPerSecond + time.offsetMicroseconds;
        if (offset <= -MicrosPerDay || offset >= MicrosPerDay)
            return std::nullopt;
        instant -= offset;
    }
    // The UTC instant must stay within years 1..9999 too: "9999-12-31T23:59:59-23:59" is
    // 10000-01-01 in UTC, which no datetime can hold once converted (Python clients parse
    // the stored value back), so it is refused like any other bad timestamp.
    if (instant < MinDays * MicrosPerDay || instant >= (MaxDays + 1) * MicrosPerDay)
        return std::nullopt;
    return instant;
}

} // namespace

std::optional<Instant> parseIsoTimestamp(QStringView text)
{
    return parseIso(text);
}

std::optional<Instant> parseIsoTimestamp(QLatin1String text)
{
    return parseIso(text);
}

int formatIsoTimestamp(Instant instant, char *out)
{
    qint64 days = instant / MicrosPerDay;
    qint64 rest = instant % MicrosPerDay;
    if (rest < 0) {
        rest += MicrosPerDay;
        --days;
    }
    const CivilDate date = civilFromDays(days);
    const int micros = int(rest % MicrosPerSecond);
    const int secondOfDay = int(rest / MicrosPerSecond);

    char *p = out;
    // Zero-padded to `width`; wider when the value needs it.
    const auto appendNumber = [&p](qint64 value, int width) {
        char digits[20];
        int n = 0;
        do {
            digits[n++] = char('0' + value % 10);
            value /= 10;
        } while (value > 0);
        for (int i = n; i < width; ++i)
            *p++ = '0';
        while (n > 0)
            *p++ = digits[--n];
    };
    const auto appendTwo = [&p](int value) {
        *p++ = char('0' + value / 10);
        *p++ = char('0' + value % 10);
    };
    // Years outside 1..9999 cannot come from parseIsoTimestamp; they still print sensibly.
    if (date.year < 0)
        *p++ = '-';
    appendNumber(date.year < 0 ? -date.year : date.year, 4);
    *p++ = '-';
    appendTwo(date.month);
    *p++ = '-';
    appendTwo(date.day);
    *p++ = 'T';
    appendTwo(secondOfDay / 3600);
    *p++ = ':';
    appendTwo(secondOfDay / 60 % 60);
    *p++ = ':';
    appendTwo(secondOfDay % 60);
    if (micros != 0) {
        *p++ = '.';
        appendNumber(micros, 6);
    }
    for (const char c : {'+', '0', '0', ':', '0', '0'})
        *p++ = c;
    Q_ASSERT(p - out <= IsoTimestampMaxSize);
    return int(p - out);
}

QString formatIsoTimestamp(Instant instant)
{
    char text[IsoTimestampMaxSize];
    return QString::fromLatin1(text, formatIsoTimestamp(instant, text));
}

Instant nowInstant()
{
    return QDateTime::currentDateTimeUtc().toMSecsSinceEpoch() * 1000;
}

} // namespace agmem
