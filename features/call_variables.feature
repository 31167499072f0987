Feature: Call variables and ECC variables
  What the customer's call brings (callVariable1 to callVariable10 and the ECC variables
  user.*) is shown in the app exactly as Finesse holds it, and the agent can change it.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
    And agent 1001 is READY

  Scenario: Call variables and ECC variables reach the app with the call
    When a customer calls 8000 with these call variables:
      | variable       | value      |
      | callVariable1  | ACC-42     |
      | callVariable2  | billing    |
      | callVariable10 | last       |
      | user.tier      | gold       |
      | user.language  | fr-CA      |
    Then within 2 seconds agent 1001's app shows an incoming call with callVariable1 ACC-42
    And agent 1001's call carries these call variables in the app and in Finesse:
      | variable       | value   |
      | callVariable1  | ACC-42  |
      | callVariable2  | billing |
      | callVariable10 | last    |
      | user.tier      | gold    |
      | user.language  | fr-CA   |

  Scenario Outline: One variable, shown as the customer's call brought it
    When a customer calls 8000 with <variable> <value>
    Then agent 1001's app shows an incoming call with <variable> <value>
    And agent 1001's call carries <variable> <value> in the app and in Finesse

    Examples:
      | variable      | value         |
      | callVariable1 | ACC-42        |
      | callVariable7 | priority high |
      | user.segment  | enterprise    |

  Scenario: The agent updates a call variable during the call
    Given agent 1001 is talking to a customer who called with callVariable3 open
    When agent 1001 sets callVariable3 to resolved
    Then agent 1001's call carries callVariable3 resolved in the app and in Finesse

  Scenario: The agent adds an ECC variable during the call
    Given agent 1001 is talking to a customer who called with user.tier gold
    When agent 1001 sets user.note to callback-friday
    Then agent 1001's call carries these call variables in the app and in Finesse:
      | variable  | value           |
      | user.tier | gold            |
      | user.note | callback-friday |
