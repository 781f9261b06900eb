package io.snigate.core;

/**
 * What counts as a host name for routing: the checks of RFC 1123 (with the underscore that real
 * names carry, as in {@code _dmarc}), and never an IP literal, which RFC 6066 forbids in
 * server_name.
 */
public final class HostNames {
    public static final int MAX_NAME_LENGTH = 253;
    public static final int MAX_LABEL_LENGTH = 63;

    private HostNames() {}

    /**
     * Lower-cases ASCII letters and removes one trailing dot. Does not validate: call
     * {@link #isValid} on the result.
     */
    public static String normalize(String name) {
        int end = name.length();
        if (end > 0 && name.charAt(end - 1) == '.') {
            end--;
        }
        boolean needsCopy = end != name.length();
        for (int i = 0; i < end && !needsCopy; i++) {
            char c = name.charAt(i);
            needsCopy = c >= 'A' && c <= 'Z';
        }
        if (!needsCopy) {
            return name;
        }
        char[] out = new char[end];
        for (int i = 0; i < end; i++) {
            char c = name.charAt(i);
            out[i] = c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
        }
        return new String(out);
    }

    /**
     * {@link #normalize(String)} for a name still in bytes (one byte per character, as ISO-8859-1
     * decodes them): lower-cases the ASCII letters of {@code name[0, length)} in place and returns
     * the length without one trailing dot. The pre-read normalizes this way so that a name costs
     * one string, made after normalizing.
     */
    public static int normalizeInPlace(byte[] name, int length) {
        for (int i = 0; i < length; i++) {
            byte c = name[i];
            if (c >= 'A' && c <= 'Z') {
                name[i] = (byte) (c + ('a' - 'A'));
            }
        }
        return length > 0 && name[length - 1] == '.' ? length - 1 : length;
    }

    /**
     * True for a normalized name of 1 to 253 characters in labels of 1 to 63 letters, digits,
     * hyphens and underscores, that is not an IPv4 literal (digits and dots) nor an IPv6 one: a
     * name the config may hold. A client's server name must also pass {@link #isValidServerName}.
     */
    public static boolean isValid(String name) {
        return isValid(name, 0, name.length());
    }

    /** {@link #isValid(String)} for {@code text[from, to)}, so that a list's line needs no substring. */
    public static boolean isValid(String text, int from, int to) {
        if (lastLabelFrom(text, from, to) < 0) {
            return false;
        }
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c != '.' && (c < '0' || c > '9')) {
                return true;
            }
        }
        return false; // digits and dots: an IPv4 literal
    }

    /**
     * {@link #isValid(String)} for a client's server name, which must also not end in a number:
     * a URL parser reads such a name as an IPv4 address in any spelling (WHATWG URL's "ends in a
     * number"), and RFC 6066 forbids literals in SNI. A list may hold such a name (no client's
     * name will match it).
     */
    public static boolean isValidServerName(String name) {
        int lastLabel = lastLabelFrom(name, 0, name.length());
        return lastLabel >= 0 && !endsInANumber(name, lastLabel, name.length());
    }

    /**
     * Where the last label of the name {@code text[from, to)} starts, or -1 when it is no name:
     * empty or too long, an empty or too long label, a character other than a label's. A name
     * ending in a dot was not normalized; an IPv6 literal fails because ':' is not a label
     * character.
     */
    private static int lastLabelFrom(String text, int from, int to) {
        int length = to - from;
        if (length <= 0 || length > MAX_NAME_LENGTH) {
            return -1;
        }
        int labelLength = 0;
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c == '.') {
                if (labelLength == 0) {
                    return -1;
                }
                labelLength = 0;
                continue;
            }
            if (!isLabelChar(c) || ++labelLength > MAX_LABEL_LENGTH) {
                return -1;
            }
        }
        return labelLength > 0 ? to - labelLength : -1;
    }

    /**
     * Whether the last label, {@code text[from, to)}, is a number: then a URL parser reads the
     * whole name as an IPv4 address ({@code 127.0.0.1},
     * {@code 2130706433}, {@code 0x7f.0.0.1}, {@code 0177.0.0.01}), as no top-level domain is
     * numeric. Decimal and octal are digits; hexadecimal is {@code 0x} and hex digits.
     */
    private static boolean endsInANumber(String text, int from, int to) {
        int digitsFrom = to - from >= 2 && text.charAt(from) == '0' && text.charAt(from + 1) == 'x' ? from + 2 : from;
        boolean hex = digitsFrom > from;
        for (int i = digitsFrom; i < to; i++) {
            char c = text.charAt(i);
            if (!(c >= '0' && c <= '9') && !(hex && c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private static boolean isLabelChar(char c) {
        return (c >= 'a' && c <= 'z')
                || (c >= '0' && c <= '9')
                || c == '-'
                || c == '_';
    }
}
