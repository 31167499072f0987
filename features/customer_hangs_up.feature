Feature: The customer hangs up
  Whenever the customer hangs up (waiting in the queue, while the phone rings, during the
  conversation or on hold) the app and Finesse agree on what is left.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |

  Scenario: The customer hangs up during the conversation
    Given agent 1001 is talking to a customer
    When the customer hangs up
    Then agent 1001's phone hangs up
    And agent 1001's app shows the call in wrap-up
    And agent 1001 is WORK_READY in the app and in Finesse

  Scenario: The customer hangs up while the agent's phone rings
    Given agent 1001 is READY
    When a customer calls 8000
    Then agent 1001's phone rings
    And agent 1001 is RESERVED in the app and in Finesse
    When the customer hangs up
    Then agent 1001's phone hangs up
    And agent 1001 has no call in the app and in Finesse
    And agent 1001 is READY in the app and in Finesse

  Scenario: The customer hangs up while waiting in the queue
    When a customer calls 8000
    Then queue 8000 holds 1 waiting call
    When the customer hangs up
    Then queue 8000 holds 0 waiting calls
    When agent 1001 goes READY
    Then agent 1001 is READY in the app and in Finesse
    And agent 1001 has no call in the app and in Finesse

  Scenario: The customer hangs up while on hold
    Given agent 1001 is talking to a customer
    When agent 1001 puts the call on hold
    Then agent 1001 is HOLD in the app and in Finesse
    When the customer hangs up
    Then agent 1001's app shows the call in wrap-up
    And agent 1001 is WORK_READY in the app and in Finesse
