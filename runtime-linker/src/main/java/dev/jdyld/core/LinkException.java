package dev.jdyld.core;

/**
 * A load failed. The message is one line: the {@link Location} (file, section, offset,
 * relocation, symbol, as far as they apply), then what was wrong. When it is thrown nothing of
 * the load remains: no mapping, no symbol, no registration.
 */
public class LinkException extends RuntimeException {
    /**
     * Where the error is.
     */
    private final Location location;

    /**
     * An error at a place in the input.
     *
     * @param location where (file, section, offset, relocation, symbol)
     * @param what     what is wrong
     */
    public LinkException(Location location, String what) {
        super(format(location, what));
        this.location = location;
    }

    /**
     * An error at a place in the input, caused by another.
     *
     * @param location where (file, section, offset, relocation, symbol)
     * @param what     what is wrong
     * @param cause    the underlying failure
     */
    public LinkException(Location location, String what, Throwable cause) {
        super(format(location, what), cause);
        this.location = location;
    }

    /**
     * A failure of the load as a whole, with no particular place.
     *
     * @param what what is wrong
     */
    public LinkException(String what) {
        this(Location.NONE, what);
    }

    /**
     * An error that belongs to no one place of the input, caused by another.
     *
     * @param what  what is wrong
     * @param cause the underlying failure
     */
    public LinkException(String what, Throwable cause) {
        this(Location.NONE, what, cause);
    }

    /**
     * Where the failure is; {@link Location#NONE} when it concerns the load as a whole.
     *
     * @return where the error is; {@link Location#NONE} when it is not at one place
     */
    public Location location() {
        return location;
    }

    private static String format(Location location, String what) {
        String where = location.toString();
        return oneLine(where.isEmpty() ? what : where + ": " + what);
    }

    /**
     * Names and header fields quoted from a hostile input may hold line breaks and other control
     * characters; escaped as {@code \xNN}, they cannot break the message's one line.
     */
    private static String oneLine(String message) {
        if (message.chars().noneMatch(Character::isISOControl)) {
            return message;
        }
        StringBuilder out = new StringBuilder(message.length() + 16);
        message.chars().forEach(c -> out.append(Character.isISOControl(c) ? String.format("\\x%02x", c) : (char) c));
        return out.toString();
    }
}
