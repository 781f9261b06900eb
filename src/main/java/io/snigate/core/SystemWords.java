package io.snigate.core;

import io.netty.channel.unix.Errors;
import java.nio.file.FileSystemException;

/**
 * A failed system call said to an operator: the system's own words ("Too many open files"), without
 * the Java or Netty exception class, the call's name and the errno that wrap them; and running out
 * of file descriptors said as what it is, since that is this host's trouble (the limit, or what
 * holds the descriptors), not the file's, the socket's or the upstream's the line is about.
 */
public final class SystemWords {
    /** strerror(EMFILE) and strerror(ENFILE) as glibc words them. */
    private static final String EMFILE = "Too many open files";
    private static final String ENFILE = "Too many open files in system";
    private static final int EMFILE_ERRNO = 24;
    private static final int ENFILE_ERRNO = 23;

    private SystemWords() {}

    /**
     * The system's words for why a call failed: Netty wraps them in its exceptions' class name (a
     * {@code ChannelException} prints its cause's) and the call's name and errno, the JDK's file
     * calls in the class name and the file's path, which the line names already.
     */
    public static String of(Throwable cause) {
        Throwable innermost = innermost(cause);
        if (innermost instanceof FileSystemException file && file.getReason() != null) {
            return file.getReason();
        }
        String message = innermost.getMessage();
        if (message == null) {
            return innermost.toString();
        }
        int words = message.lastIndexOf("): "); // "newSocketStream(..) failed with error(-24): Too many open files"
        return innermost instanceof Errors.NativeIoException && words >= 0 ? message.substring(words + 3) : message;
    }

    /**
     * {@link #of}, and out of descriptors said so first: "the process is out of file descriptors
     * (Too many open files)" for its own limit, "the system is out of file descriptors (Too many
     * open files in system)" for the kernel's.
     */
    public static String plainly(Throwable cause) {
        String words = of(cause);
        if (is(cause, EMFILE_ERRNO, EMFILE)) {
            return "the process is out of file descriptors (" + words + ")";
        }
        if (is(cause, ENFILE_ERRNO, ENFILE)) {
            return "the system is out of file descriptors (" + words + ")";
        }
        return words;
    }

    /** Whether {@code cause} is the process's or the system's want of file descriptors; false for null. */
    public static boolean outOfDescriptors(Throwable cause) {
        return cause != null && (is(cause, EMFILE_ERRNO, EMFILE) || is(cause, ENFILE_ERRNO, ENFILE));
    }

    private static boolean is(Throwable cause, int errno, String words) {
        Throwable innermost = innermost(cause);
        return innermost instanceof Errors.NativeIoException nativeError ? -nativeError.expectedErr() == errno
                : of(innermost).equals(words);
    }

    private static Throwable innermost(Throwable cause) {
        Throwable innermost = cause;
        while (innermost.getCause() != null && innermost.getCause() != innermost) {
            innermost = innermost.getCause();
        }
        return innermost;
    }
}
